import { randomUUID } from "node:crypto";
import Fastify, { type FastifyInstance } from "fastify";
import { expect } from "vitest";
import type { AuthenticateApiKeyRequest } from "@galaxy/contracts";
import { gatewayTest } from "../../test/fixtures";
import { Authenticator, type Principal } from "./principal";

/**
 * On the gateway's fixtures (test/fixtures.ts), each set up once per file:
 * - `asked`: the API keys identity's stand-in was asked to authenticate (it grants every one);
 * - `app`: a server whose pre-handler authenticates each request, as the rate limiter does, and
 *   whose route `/whoami` authenticates it again, as every route does, answering whether both got
 *   the same answer, and the principal; `/pages` authenticates, forgets the key's claim (as its
 *   revocation does), then asks as the audit export asks for each page.
 */
const test = gatewayTest
  .extend("asked", { scope: "file" }, async ({ identityBus }): Promise<AuthenticateApiKeyRequest[]> => {
    const asked: AuthenticateApiKeyRequest[] = [];
    identityBus.serve("identity.api_keys.authenticate", async (body) => {
      asked.push(body);
      return { claim: `claim-of-${body.key}`, expiresAt: Math.floor(Date.now() / 1000) + 600, workspaceId: randomUUID(), apiKeyId: randomUUID(), createdBy: randomUUID() };
    });
    await identityBus.flush();
    return asked;
  })
  .extend("app", { scope: "file" }, async ({ gatewayBus, asked }, { onCleanup }): Promise<FastifyInstance> => {
    void asked;
    const auth = new Authenticator(gatewayBus);
    const first = new WeakMap<object, Principal>();
    const app = Fastify();
    onCleanup(() => app.close());
    app.addHook("preHandler", async (request) => {
      first.set(request, await auth.authenticate(request));
    });
    app.get("/whoami", async (request) => {
      const principal = await auth.authenticate(request);
      return { same: first.get(request) === principal, principal };
    });
    app.get("/pages", async (request) => {
      const kept = await auth.authenticate(request);
      auth.forgetApiKey(kept.workspaceId, kept.userId);
      const now = await auth.authenticateNow(request);
      return { fresh: now !== kept, claim: now.claim, keptAgain: (await auth.authenticate(request)) === kept };
    });
    return app;
  });

test("a request is authenticated once, however many times it is asked", async ({ app, asked }) => {
  const key = `gxk_${randomUUID()}`;
  const response = await app.inject({ method: "GET", url: "/whoami", headers: { authorization: `Bearer ${key}` } });
  expect(response.statusCode).toBe(200);
  expect(response.json()).toMatchObject({ same: true, principal: { kind: "api_key", claim: `claim-of-${key}` } });
  expect(asked.filter((body) => body.key === key)).toHaveLength(1);
});

test("another request with the same key is answered from the credential's cached claim, without asking identity again", async ({ app, asked }) => {
  const key = `gxk_${randomUUID()}`;
  const answers = [];
  for (let i = 0; i < 2; i++) answers.push(await app.inject({ method: "GET", url: "/whoami", headers: { authorization: `Bearer ${key}` } }));
  expect(answers.map((response) => response.json<{ same: boolean }>().same)).toEqual([true, true]);
  expect(answers[0]?.json<{ principal: Principal }>().principal).toEqual(answers[1]?.json<{ principal: Principal }>().principal);
  expect(asked.filter((body) => body.key === key)).toHaveLength(1);
});

test("a response that checks access as it goes asks as things stand now, not the request's kept answer", async ({ app, asked }) => {
  const key = `gxk_${randomUUID()}`;
  const response = await app.inject({ method: "GET", url: "/pages", headers: { authorization: `Bearer ${key}` } });
  expect(response.statusCode).toBe(200);
  expect(response.json()).toEqual({ fresh: true, claim: `claim-of-${key}`, keptAgain: true });
  // Once for the request, and again for the page after the key's claim was forgotten.
  expect(asked.filter((body) => body.key === key)).toHaveLength(2);
});
