import { describe, expect } from "vitest";
import { Redis } from "ioredis";
import { z } from "zod";
import { Agent, ApiKey, CreatedApiKey, ErrorBody, LoginResult, Me } from "@galaxy/contracts";
import { createMetrics } from "@galaxy/observability";
import { connectTestBus, serviceDb, testLogger } from "@galaxy/testkit";
import { buildGateway, type GatewayDb } from "@galaxy/gateway";
import { galaxyTest, PASSWORD, startGalaxyFirst } from "./fixtures";
import { api, dataOf, type Galaxy } from "./harness";

/**
 * API keys end to end, on two gateway instances (each with its own bus connection and cache),
 * to show that a revocation or a member's role change reaches every instance within 1 s.
 */

/**
 * Set up before the first test:
 * - `gateways`: Galaxy's own gateway and a second one (its own bus connection, database pool,
 *   Redis connection and cache), each as a Galaxy to call;
 * - `owner`: the owner of a workspace;
 * - `everyGatewayAnswers`: polls every gateway until each answers `path` with `status`; returns
 *   how long that took after `since`;
 * - `onEveryGateway`: each gateway answers `status` now (and so has the credential's claim in its cache);
 * - `ownerClaim`: the owner's claim, to act as the owner straight on the bus (as the members endpoints do).
 */
const test = galaxyTest()
  .extend("gateways", { scope: "file", auto: true }, async ({ galaxy }, { onCleanup }): Promise<Array<{ name: string; galaxy: Galaxy }>> => {
    const bus = await connectTestBus(galaxy.env, "gateway");
    const db = serviceDb<GatewayDb>(galaxy.env, "gateway");
    const redis = new Redis(galaxy.env.redisUrl, { keyPrefix: galaxy.env.redisPrefix, lazyConnect: true });
    let gateway: Awaited<ReturnType<typeof buildGateway>> | undefined;
    onCleanup(async () => {
      await gateway?.close();
      await bus.close();
      redis.disconnect();
      await db.destroy();
    });
    await redis.connect();
    gateway = await buildGateway({ bus, db, redis, logger: testLogger("gateway-2"), metrics: createMetrics("gateway-2") });
    await gateway.listen({ port: 0, host: "127.0.0.1" });
    const address = gateway.server.address();
    const url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
    return [
      { name: "gateway 1", galaxy },
      { name: "gateway 2", galaxy: { ...galaxy, url } },
    ];
  })
  .extend("owner", { scope: "file", auto: true }, async ({ signUp }) => signUp("owner@example.com"))
  .extend("everyGatewayAnswers", { scope: "file" }, async ({ gateways }) =>
    async (since: number, token: string, method: string, path: string, status: number, timeoutMs = 3_000): Promise<number> => {
      for (const { name, galaxy: g } of gateways) {
        for (;;) {
          const response = await api(g, method, path, { token });
          if (response.status === status) break;
          if (Date.now() - since > timeoutMs) throw new Error(`${name} still answers ${method} ${path} with ${response.status}, not ${status}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      return Date.now() - since;
    })
  .extend("onEveryGateway", { scope: "file" }, async ({ gateways }) => async (token: string, method: string, path: string, status: number): Promise<void> => {
    for (const { name, galaxy: g } of gateways) expect((await api(g, method, path, { token })).status, `${name} ${method} ${path}`).toBe(status);
  })
  .extend("ownerClaim", { scope: "file" }, async ({ galaxy, owner }) => async () =>
    ({ claim: (await galaxy.observer.request("identity.claims.issue", { accessToken: owner.accessToken })).claim, workspaceId: owner.workspace.id }));
startGalaxyFirst(test);

const codeOf = (body: unknown) => ErrorBody.parse(body).code;

describe("API keys", () => {
  test("an admin creates a key, shown once; it calls the API; the list never shows the key", async ({ galaxy, owner, onEveryGateway }) => {
    const response = await api(galaxy, "POST", "/api/api-keys", { token: owner.accessToken, body: { name: "ci", role: "member" } });
    expect(response.status).toBe(201);
    const created = dataOf(CreatedApiKey, response);
    expect(created.key).toMatch(/^gxk_[A-Za-z0-9_-]{32,}$/);

    await onEveryGateway(created.key, "GET", "/api/agents", 200);
    // /api/me with a key: its creator, in the key's workspace alone, with the key's role.
    const me = dataOf(Me, await api(galaxy, "GET", "/api/me", { token: created.key }));
    expect(me).toMatchObject({ user: { id: owner.user.id }, workspace: { id: owner.workspace.id }, role: "member" });
    expect(me.memberships).toEqual([{ workspace: me.workspace, role: "member" }]);
    const agent = dataOf(Agent, await api(galaxy, "POST", "/api/agents", { token: created.key, body: { name: "By key", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "" } }));
    expect(agent.name).toBe("By key");

    const list = await api(galaxy, "GET", "/api/api-keys", { token: owner.accessToken });
    expect(list.status).toBe(200);
    const keys = z.object({ data: z.array(ApiKey) }).parse(list.body).data;
    expect(keys.map((k) => k.id)).toContain(created.id);
    expect(JSON.stringify(list.body)).not.toContain(created.key);
  });

  test("a key acts with its own role, and never manages keys", async ({ galaxy, owner }) => {
    const viewer = dataOf(CreatedApiKey, await api(galaxy, "POST", "/api/api-keys", { token: owner.accessToken, body: { name: "read-only", role: "viewer" } }));
    expect((await api(galaxy, "GET", "/api/agents", { token: viewer.key })).status).toBe(200);
    const create = await api(galaxy, "POST", "/api/agents", { token: viewer.key, body: { name: "x", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "" } });
    expect(create.status).toBe(403);
    const admin = dataOf(CreatedApiKey, await api(galaxy, "POST", "/api/api-keys", { token: owner.accessToken, body: { name: "admin", role: "admin" } }));
    expect((await api(galaxy, "GET", "/api/audit-logs", { token: admin.key })).status).toBe(200);
    expect((await api(galaxy, "GET", "/api/api-keys", { token: admin.key })).status).toBe(403);
  });

  test("unknown and malformed keys are a 401 invalid_api_key", async ({ galaxy }) => {
    for (const key of [`gxk_${"x".repeat(43)}`, `gxk_${"a".repeat(3_000)}`]) {
      const response = await api(galaxy, "GET", "/api/agents", { token: key });
      expect(response.status).toBe(401);
      expect(codeOf(response.body)).toBe("invalid_api_key");
    }
  });

  test("a revoked key fails with 401 on every gateway within 1 s", async ({ galaxy, gateways, owner, everyGatewayAnswers, onEveryGateway }) => {
    const created = dataOf(CreatedApiKey, await api(galaxy, "POST", "/api/api-keys", { token: owner.accessToken, body: { name: "to revoke", role: "member" } }));
    // Both gateways now hold the key's claim in their caches.
    await onEveryGateway(created.key, "GET", "/api/agents", 200);
    const since = Date.now();
    const revoke = await api(galaxy, "DELETE", `/api/api-keys/${created.id}`, { token: owner.accessToken });
    expect(revoke.status).toBe(204);
    expect(await everyGatewayAnswers(since, created.key, "GET", "/api/agents", 401)).toBeLessThan(1_000);
    expect(codeOf((await api(gateways[1]!.galaxy, "GET", "/api/agents", { token: created.key })).body)).toBe("invalid_api_key");
    expect((await api(galaxy, "DELETE", `/api/api-keys/${created.id}`, { token: owner.accessToken })).status).toBe(404);
  });

  test("an expiring key works on every gateway until its expiry, then fails with 401 on every gateway within 1 s of it", async ({ galaxy, gateways, owner, onEveryGateway }) => {
    const POLL_MS = 20;
    const expiresAt = new Date(Date.now() + 3_000);
    const created = dataOf(CreatedApiKey, await api(galaxy, "POST", "/api/api-keys", { token: owner.accessToken, body: { name: "short-lived", role: "member", expiresAt: expiresAt.toISOString() } }));
    expect(created.expiresAt).not.toBeNull();
    const expiry = new Date(created.expiresAt ?? 0).getTime();
    expect(expiry - Date.now()).toBeGreaterThan(1_500);
    // Both gateways now hold (or have just asked for) the key's claim.
    await onEveryGateway(created.key, "GET", "/api/agents", 200);
    // Wait on each gateway until it refuses the key: no cached claim may outlive the key's expiry.
    for (const { name, galaxy: g } of gateways) {
      for (;;) {
        const response = await api(g, "GET", "/api/agents", { token: created.key });
        if (response.status === 401) {
          expect(codeOf(response.body), name).toBe("invalid_api_key");
          break;
        }
        expect(response.status, name).toBe(200);
        expect(Date.now() - expiry, `${name} still accepts the key ${Date.now() - expiry} ms after its expiry`).toBeLessThanOrEqual(1_000 + POLL_MS);
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    }
    expect(Date.now() - expiry, "every gateway refused the key within 1 s of its expiry").toBeLessThanOrEqual(1_000 + POLL_MS);
    // And keeps refusing it, on both.
    await new Promise((r) => setTimeout(r, Math.max(0, expiry + 1_000 - Date.now())));
    for (const { name, galaxy: g } of gateways) {
      const response = await api(g, "GET", "/api/agents", { token: created.key });
      expect(response.status, name).toBe(401);
      expect(codeOf(response.body), name).toBe("invalid_api_key");
    }
  });

  test("another workspace's key is a 404 to revoke; an expiry in the past is a 400", async ({ galaxy, signUp, owner }) => {
    const created = dataOf(CreatedApiKey, await api(galaxy, "POST", "/api/api-keys", { token: owner.accessToken, body: { name: "mine", role: "viewer" } }));
    const stranger = await signUp("stranger@example.com");
    const attempt = await api(galaxy, "DELETE", `/api/api-keys/${created.id}`, { token: stranger.accessToken });
    expect(attempt.status).toBe(404);
    expect(codeOf(attempt.body)).toBe("api_key_not_found");
    expect((await api(galaxy, "GET", "/api/agents", { token: created.key })).status).toBe(200);
    const past = await api(galaxy, "POST", "/api/api-keys", { token: stranger.accessToken, body: { name: "x", role: "viewer", expiresAt: "2000-01-01T00:00:00Z" } });
    expect(past.status).toBe(400);
  });
});

describe("a member's role change or removal reaches every gateway within 1 s", () => {
  test("for the member's access token and for the keys the member created", async ({ galaxy, signUp, gateways, owner, everyGatewayAnswers, onEveryGateway, ownerClaim }) => {
    const mate = await signUp("mate@example.com");
    await galaxy.observer.request("identity.members.add", { email: "mate@example.com", role: "admin" }, await ownerClaim());
    const login = dataOf(LoginResult, await api(galaxy, "POST", "/api/auth/login", { body: { email: "mate@example.com", password: PASSWORD, workspaceId: owner.workspace.id } }));
    const token = login.accessToken;
    const key = dataOf(CreatedApiKey, await api(galaxy, "POST", "/api/api-keys", { token, body: { name: "mate's", role: "admin" } })).key;

    // As an admin: the token may list keys, the key may read the audit log; both now cached everywhere.
    await onEveryGateway(token, "GET", "/api/api-keys", 200);
    await onEveryGateway(key, "GET", "/api/audit-logs", 200);

    let since = Date.now();
    await galaxy.observer.request("identity.members.update", { userId: mate.user.id, role: "viewer" }, await ownerClaim());
    expect(await everyGatewayAnswers(since, token, "GET", "/api/api-keys", 403)).toBeLessThan(1_000);
    expect(await everyGatewayAnswers(since, key, "GET", "/api/audit-logs", 403)).toBeLessThan(1_000);
    await onEveryGateway(token, "GET", "/api/agents", 200);
    await onEveryGateway(key, "GET", "/api/agents", 200);

    since = Date.now();
    await galaxy.observer.request("identity.members.remove", { userId: mate.user.id }, await ownerClaim());
    expect(await everyGatewayAnswers(since, token, "GET", "/api/agents", 401)).toBeLessThan(1_000);
    expect(await everyGatewayAnswers(since, key, "GET", "/api/agents", 401)).toBeLessThan(1_000);
    const stale = await api(gateways[1]!.galaxy, "GET", "/api/agents", { token });
    expect(codeOf(stale.body)).toBe("token_stale");
    expect(codeOf((await api(gateways[1]!.galaxy, "GET", "/api/agents", { token: key })).body)).toBe("invalid_api_key");
  });

  test("a member's permission override reaches every gateway within 1 s, for the member's existing token", async ({ galaxy, signUp, gateways, owner, onEveryGateway, ownerClaim }) => {
    const dev = await signUp("dev@example.com");
    await galaxy.observer.request("identity.members.add", { email: "dev@example.com", role: "member" }, await ownerClaim());
    const token = dataOf(LoginResult, await api(galaxy, "POST", "/api/auth/login", { body: { email: "dev@example.com", password: PASSWORD, workspaceId: owner.workspace.id } })).accessToken;
    const body = { name: "By dev", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "" };
    const createOn = (g: Galaxy) => api(g, "POST", "/api/agents", { token, body });
    /** Polls every gateway until each answers the member's POST /api/agents with `status`; how long that took after `since`. */
    const everyGatewayCreates = async (since: number, status: number): Promise<number> => {
      for (const { name, galaxy: g } of gateways) {
        for (;;) {
          const response = await createOn(g);
          if (response.status === status) break;
          if (Date.now() - since > 3_000) throw new Error(`${name} still answers POST /api/agents with ${response.status}, not ${status}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      return Date.now() - since;
    };
    const setCreate = async (create: boolean) => {
      const response = await api(galaxy, "PATCH", `/api/members/${dev.user.id}`, { token: owner.accessToken, body: { permissions: { agents: { create } } } });
      expect(response.status, JSON.stringify(response.body)).toBe(200);
    };

    // A member may create agents; the token's claim is now cached on both gateways.
    for (const { name, galaxy: g } of gateways) expect((await createOn(g)).status, name).toBe(201);

    let since = Date.now();
    await setCreate(false);
    expect(await everyGatewayCreates(since, 403)).toBeLessThan(1_000);
    for (const { name, galaxy: g } of gateways) {
      const refused = await createOn(g);
      expect(refused.status, name).toBe(403);
      expect(ErrorBody.parse(refused.body).error, name).toBe("Forbidden");
    }
    // Reading is untouched by the override.
    await onEveryGateway(token, "GET", "/api/agents", 200);

    since = Date.now();
    await setCreate(true);
    expect(await everyGatewayCreates(since, 201)).toBeLessThan(1_000);
    for (const { name, galaxy: g } of gateways) expect((await createOn(g)).status, name).toBe(201);
  });
});
