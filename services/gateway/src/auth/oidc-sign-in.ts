import { z } from "zod";
import { GalaxyError, UnavailableError } from "@galaxy/contracts";

/**
 * The browser sign-in with the external OIDC provider (docs/security.md, Browser sign-in): the
 * authorization code grant with PKCE, for a public client (the console has no secret). The
 * console sends the user to `authorizationUrl`; the provider sends them back with a code,
 * which the gateway redeems at `tokenUrl` for the provider's ID token, and identity exchanges
 * that for a Galaxy token as `POST /api/auth/exchange` does.
 */
export interface OidcSignIn {
  /** `OIDC_PROVIDER_NAME`: what the sign-in button says, e.g. `Clerk`. */
  providerName: string;
  /** `OIDC_AUTHORIZATION_URL`, `OIDC_TOKEN_URL`: the provider's endpoints. */
  authorizationUrl: string;
  tokenUrl: string;
  /** `OIDC_CLIENT_ID`: the console's client at the provider (public: PKCE, no secret). */
  clientId: string;
  /** `OIDC_SCOPES` (default `openid email profile`). */
  scopes: string;
}

/** The sign-in from the gateway's environment, or undefined unless the client and both endpoints are set. */
export function oidcSignInFromEnv(env: { OIDC_PROVIDER_NAME?: string | undefined; OIDC_AUTHORIZATION_URL?: string | undefined; OIDC_TOKEN_URL?: string | undefined; OIDC_CLIENT_ID?: string | undefined; OIDC_SCOPES?: string | undefined }): OidcSignIn | undefined {
  if (!env.OIDC_AUTHORIZATION_URL || !env.OIDC_TOKEN_URL || !env.OIDC_CLIENT_ID) return undefined;
  return {
    providerName: env.OIDC_PROVIDER_NAME || "your identity provider",
    authorizationUrl: env.OIDC_AUTHORIZATION_URL,
    tokenUrl: env.OIDC_TOKEN_URL,
    clientId: env.OIDC_CLIENT_ID,
    scopes: env.OIDC_SCOPES || "openid email profile",
  };
}

export class InvalidAuthorizationCodeError extends GalaxyError {
  constructor() {
    super(401, "invalid_authorization_code", "The identity provider refused the code (expired, used already, or not of this sign-in); sign in again");
    this.name = "InvalidAuthorizationCodeError";
  }
}

const TokenAnswer = z.object({ id_token: z.string().min(1).max(16_384) });
const REDEEM_TIMEOUT_MS = 10_000;

/** Trades an authorization code and its PKCE verifier for the provider's ID token. */
export async function redeemCode(config: OidcSignIn, grant: { code: string; codeVerifier: string; redirectUri: string }): Promise<string> {
  const body = new URLSearchParams({ grant_type: "authorization_code", client_id: config.clientId, code: grant.code, code_verifier: grant.codeVerifier, redirect_uri: grant.redirectUri });
  let response: Response;
  try {
    response = await fetch(config.tokenUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body,
      signal: AbortSignal.timeout(REDEEM_TIMEOUT_MS),
    });
  } catch (error) {
    throw new UnavailableError("The identity provider cannot be reached; try signing in again shortly", { cause: error });
  }
  // RFC 6749: a refused grant is a 400 (`invalid_grant`) or 401; anything else is the provider failing.
  if (response.status === 400 || response.status === 401) throw new InvalidAuthorizationCodeError();
  if (!response.ok) throw new UnavailableError(`The identity provider answered ${response.status}; try signing in again shortly`);
  let answer: unknown;
  try {
    answer = await response.json();
  } catch (error) {
    throw new UnavailableError("The identity provider's answer is not JSON", { cause: error });
  }
  const parsed = TokenAnswer.safeParse(answer);
  if (!parsed.success) throw new UnavailableError("The identity provider answered no ID token");
  return parsed.data.id_token;
}
