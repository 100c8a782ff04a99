import { z } from "zod";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { GalaxyError, LoginResult } from "@galaxy/contracts";
import { redeemCode, type OidcSignIn } from "../auth/oidc-sign-in";
import { busOptions } from "../http/context";
import type { RouteDeps } from "./deps";

export const OidcSignInInfo = z.object({
  enabled: z.boolean().describe("Whether the browser sign-in with the OIDC provider is configured"),
  providerName: z.string().nullable(),
  authorizationUrl: z.string().nullable(),
  clientId: z.string().nullable(),
  scopes: z.string().nullable(),
});

const PKCE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
export const OidcCodeBody = z
  .object({
    code: z.string().min(1).max(2_048),
    codeVerifier: z.string().regex(PKCE_VERIFIER, "must be a PKCE code verifier: 43 to 128 of A-Z a-z 0-9 - . _ ~"),
    redirectUri: z.url().max(2_048),
    workspaceId: z.uuid().optional(),
  })
  .strict();

class OidcSignInNotConfiguredError extends GalaxyError {
  constructor() {
    super(404, "oidc_not_configured", "No browser sign-in with an identity provider is configured");
    this.name = "OidcSignInNotConfiguredError";
  }
}

/** The browser sign-in with the OIDC provider (docs/security.md, Browser sign-in). */
export function oidcSignInRoutes({ bus }: RouteDeps, signIn: OidcSignIn | undefined): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      "/api/auth/oidc",
      {
        schema: {
          tags: ["auth"], operationId: "describeOidcSignIn",
          summary: "Whether a browser can sign in with the OIDC provider, and where to send it (authorization code with PKCE)",
          security: [],
          response: { 200: z.object({ data: OidcSignInInfo }) },
        },
      },
      async () => ({
        data: signIn
          ? { enabled: true, providerName: signIn.providerName, authorizationUrl: signIn.authorizationUrl, clientId: signIn.clientId, scopes: signIn.scopes }
          : { enabled: false, providerName: null, authorizationUrl: null, clientId: null, scopes: null },
      }),
    );

    // Like login and exchange, it answers with an access token and keeps no idempotency record.
    app.post(
      "/api/auth/oidc/token",
      {
        schema: {
          tags: ["auth"], operationId: "redeemOidcCode",
          summary: "Trade the provider's authorization code (and its PKCE verifier) for an access token",
          description:
            "The gateway redeems the code at the provider's token endpoint with `codeVerifier` and the same `redirectUri` the authorization request named, then exchanges the provider's ID token as `POST /api/auth/exchange` does. 401 `invalid_authorization_code` when the provider refuses the code, `invalid_external_token` when its ID token does not verify; 404 `oidc_not_configured`; 503 when the provider cannot be reached.",
          body: OidcCodeBody,
          security: [],
          response: { 200: z.object({ data: LoginResult }) },
        },
      },
      async (request) => {
        if (!signIn) throw new OidcSignInNotConfiguredError();
        const idToken = await redeemCode(signIn, request.body);
        const exchange = { idToken, ...(request.body.workspaceId ? { workspaceId: request.body.workspaceId } : {}) };
        return { data: await bus.request("identity.auth.exchange", exchange, busOptions(request)) };
      },
    );
  };
}
