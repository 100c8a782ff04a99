import { z } from "zod";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { ExchangeBody, GalaxyError, Jwks, LoginBody, LoginResult, Me, SignupBody, SignupResult, SwitchWorkspaceBody } from "@galaxy/contracts";
import { LOGIN_THROTTLE, type LoginThrottle } from "../auth/login-throttle";
import { busOptions } from "../http/context";
import type { RouteDeps } from "./deps";

/** Sign-up, login (throttled), switching workspaces, the caller's identity and the public keys. */
export function authRoutes({ bus, auth }: RouteDeps, throttle: LoginThrottle): FastifyPluginAsyncZod {
  return async (app) => {
    // Sign-up and login keep no idempotency record: their answers hold access tokens, which
    // must not be stored, and repeating them is safe (a second sign-up is a 409, a second
    // login a fresh token).
    app.post("/api/auth/signup", { schema: { tags: ["auth"], operationId: "signup", summary: "Create an account and its first workspace", security: [], body: SignupBody, response: { 201: z.object({ data: SignupResult }) } } }, async (request, reply) => {
      reply.status(201);
      return { data: await bus.request("identity.auth.signup", request.body, busOptions(request)) };
    });

    app.post(
      "/api/auth/login",
      {
        schema: {
          tags: ["auth"], operationId: "login",
          summary: "Exchange email and password for an access token",
          description: `After ${LOGIN_THROTTLE.perEmail} failed logins for an email, or ${LOGIN_THROTTLE.perIp} from one IP, within ${LOGIN_THROTTLE.windowS / 60} minutes, logins answer 429 with \`Retry-After\` until the window ends.`,
          security: [],
          body: LoginBody,
          response: { 200: z.object({ data: LoginResult }) },
        },
      },
      async (request, reply) => {
        const attempt = await throttle.begin(request.body.email, request.ip, reply);
        try {
          const data = await bus.request("identity.auth.login", request.body, busOptions(request));
          await attempt.succeeded();
          return { data };
        } catch (error) {
          if (error instanceof GalaxyError && error.code === "invalid_credentials") attempt.failed(reply);
          else if (!(error instanceof GalaxyError && error.status < 500)) await attempt.undecided();
          else await attempt.succeeded();
          throw error;
        }
      },
    );

    // Like login, an exchange answers with an access token and keeps no idempotency record. It
    // needs no throttle: a signed token cannot be guessed, and identity pins issuer and algorithms.
    app.post(
      "/api/auth/exchange",
      {
        schema: {
          tags: ["auth"], operationId: "exchangeToken",
          summary: "Exchange an ID token of the configured OIDC issuer (e.g. Clerk) for an access token",
          description:
            "The user is found by the token's issuer and subject, or created on first sight from its `email` and `name` (with a workspace of its own). 401 `invalid_external_token` for a token that does not verify; 404 `oidc_not_configured` when no issuer is configured.",
          body: ExchangeBody,
          security: [],
          response: { 200: z.object({ data: LoginResult }) },
        },
      },
      async (request) => ({ data: await bus.request("identity.auth.exchange", request.body, busOptions(request)) }),
    );

    // Like login, a switch answers with an access token and keeps no idempotency record.
    app.post(
      "/api/auth/switch",
      { schema: { tags: ["auth"], operationId: "switchWorkspace", summary: "A token for another workspace the caller belongs to (user tokens only)", body: SwitchWorkspaceBody, response: { 200: z.object({ data: LoginResult }) } } },
      async (request) => {
        const principal = await auth.authenticate(request);
        return { data: await bus.request("identity.auth.switch", request.body, busOptions(request, principal)) };
      },
    );

    app.get("/api/me", { schema: { tags: ["auth"], operationId: "getMe", summary: "The caller, its workspace and role, and its memberships", response: { 200: z.object({ data: Me }) } } }, async (request) => {
      const principal = await auth.authenticate(request);
      return { data: await bus.request("identity.me", {}, busOptions(request, principal)) };
    });

    app.get("/.well-known/jwks.json", { schema: { tags: ["auth"], operationId: "getJwks", summary: "Public keys that verify access tokens and workspace claims", security: [], response: { 200: Jwks } } }, async (_request, reply) => {
      reply.header("cache-control", "public, max-age=60");
      return bus.request("identity.jwks", {});
    });
  };
}
