import { createRemoteJWKSet, errors as joseErrors, jwtVerify } from "jose";
import { EXTERNAL_TOKEN_ALGORITHMS, ExternalTokenClaims, UnavailableError } from "@galaxy/contracts";
import { InvalidExternalTokenError } from "../errors";

/** The external OIDC issuer whose ID tokens `POST /api/auth/exchange` accepts (docs/operations.md). */
export interface OidcConfig {
  /** `OIDC_ISSUER`: the exact `iss` of its tokens, e.g. `https://clerk.example.com`. */
  issuer: string;
  /** `OIDC_JWKS_URL`: its public keys (default `<issuer>/.well-known/jwks.json`). */
  jwksUrl: string;
  /** `OIDC_AUDIENCE`: the `aud` its tokens must carry; unset, `aud` is not checked (Clerk session tokens carry none). */
  audience?: string | undefined;
}

/** The OIDC settings from the environment, or undefined when no issuer is configured. */
export function oidcConfigFromEnv(env: { OIDC_ISSUER?: string | undefined; OIDC_JWKS_URL?: string | undefined; OIDC_AUDIENCE?: string | undefined }): OidcConfig | undefined {
  if (!env.OIDC_ISSUER) return undefined;
  const jwksUrl = env.OIDC_JWKS_URL || `${env.OIDC_ISSUER.replace(/\/+$/, "")}/.well-known/jwks.json`;
  return { issuer: env.OIDC_ISSUER, jwksUrl, audience: env.OIDC_AUDIENCE || undefined };
}

/** Clock skew tolerated between the provider and Galaxy. */
const CLOCK_TOLERANCE_S = 30;

/**
 * Verifies ID tokens of the one configured external issuer against its remote JWKS (fetched
 * on first use, cached, fetched again for an unknown `kid` at most every 30 s). Pins the
 * algorithms (RS256, ES256: never `none`, never HMAC), the issuer, the audience when one is
 * configured, and requires `exp` and `sub`.
 */
export class ExternalTokenVerifier {
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;

  constructor(private readonly config: OidcConfig) {
    this.jwks = createRemoteJWKSet(new URL(config.jwksUrl), { timeoutDuration: 5_000, cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 });
  }

  get issuer(): string {
    return this.config.issuer;
  }

  async verify(token: string): Promise<ExternalTokenClaims> {
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, this.jwks, {
        algorithms: [...EXTERNAL_TOKEN_ALGORITHMS],
        issuer: this.config.issuer,
        ...(this.config.audience ? { audience: this.config.audience } : {}),
        requiredClaims: ["exp", "sub"],
        clockTolerance: CLOCK_TOLERANCE_S,
      }));
    } catch (error) {
      // The provider's key server being down is not the caller's fault: retry later.
      if (error instanceof joseErrors.JWKSTimeout) throw new UnavailableError("the identity provider's keys could not be fetched", { cause: error });
      // jose's generic error is the JWKS response's (not 200, not JSON); a token's own faults have their own classes.
      if (error instanceof joseErrors.JOSEError && error.code === "ERR_JOSE_GENERIC") throw new UnavailableError("the identity provider's keys could not be fetched", { cause: error });
      if (error instanceof joseErrors.JWTExpired) throw new InvalidExternalTokenError("The identity provider's token has expired");
      if (error instanceof joseErrors.JOSEError) throw new InvalidExternalTokenError();
      // jose lets a failed fetch of the JWKS through as the fetch's own error.
      throw new UnavailableError("the identity provider's keys could not be fetched", { cause: error });
    }
    const claims = ExternalTokenClaims.safeParse(payload);
    if (!claims.success) throw new InvalidExternalTokenError("The identity provider's token lacks a usable subject, email or name");
    return claims.data;
  }
}
