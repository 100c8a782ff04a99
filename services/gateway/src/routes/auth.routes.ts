import { z } from "zod";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { Jwks, LoginBody, LoginResult, Me, SignupBody, SignupResult } from "@galaxy/contracts";
import { busOptions } from "../http/context";
import type { RouteDeps } from "./deps";

/** Sign-up, login, the caller's identity and the public keys. */
export function authRoutes({ bus, auth }: RouteDeps): FastifyPluginAsyncZod {
  return async (app) => {
    // Sign-up and login keep no idempotency record: their answers hold access tokens, which
    // must not be stored, and repeating them is safe (a second sign-up is a 409, a second
    // login a fresh token).
    app.post("/api/auth/signup", { schema: { tags: ["auth"], summary: "Create an account and its first workspace", body: SignupBody, response: { 201: z.object({ data: SignupResult }) } } }, async (request, reply) => {
      reply.status(201);
      return { data: await bus.request("identity.auth.signup", request.body, busOptions(request)) };
    });

    app.post("/api/auth/login", { schema: { tags: ["auth"], summary: "Exchange email and password for an access token", body: LoginBody, response: { 200: z.object({ data: LoginResult }) } } }, async (request) => ({
      data: await bus.request("identity.auth.login", request.body, busOptions(request)),
    }));

    app.get("/api/me", { schema: { tags: ["auth"], summary: "The caller, its workspace and role, and its memberships", response: { 200: z.object({ data: Me }) } } }, async (request) => {
      const principal = await auth.authenticate(request);
      return { data: await bus.request("identity.me", {}, busOptions(request, principal)) };
    });

    app.get("/.well-known/jwks.json", { schema: { tags: ["auth"], summary: "Public keys that verify access tokens and workspace claims", response: { 200: Jwks } } }, async (_request, reply) => {
      reply.header("cache-control", "public, max-age=60");
      return bus.request("identity.jwks", {});
    });
  };
}
