import { describe, expect } from "vitest";
import { z } from "zod";
import { Redis } from "ioredis";
import { Agent, AuditEntry, CreatedApiKey, ErrorBody, LoginResult, Pagination, RATE_TIERS_KEY, SYSTEM_WORKSPACE_ID, WorkspaceTier as Tier } from "@galaxy/contracts";
import { connectCli, EXIT, grantSystemAdmin, parseCliEnv, revokeKey, rotateKeys, runCli, setTier, showTier } from "@galaxy/cli";
import { freePort } from "@galaxy/testkit";
import { galaxyTest, PASSWORD, startGalaxyFirst } from "./fixtures";
import { api, dataOf, eventually } from "./harness";

const Incidents = z.object({ data: z.array(AuditEntry), pagination: Pagination });
const codeOf = (body: unknown) => ErrorBody.parse(body).code;

type CliBus = Awaited<ReturnType<typeof connectCli>>;

/**
 * Set up before the first test:
 * - `ada`: becomes a system admin; a member of her own workspace only;
 * - `mallory`: makes a cross-workspace attempt;
 * - `carol`: owns workspace W and its agent, `carolAgent`;
 * - `login`: signs a user in; `asCli`: runs a CLI command function as `galaxy` does, on its own
 *   connection on this file's bus; `grant`: `galaxy admin grant-system-admin <email>`.
 */
const test = galaxyTest()
  .extend("ada", { scope: "file", auto: true }, async ({ signUp }) => signUp("ada@example.com"))
  .extend("mallory", { scope: "file", auto: true }, async ({ signUp }) => signUp("mallory@example.com"))
  .extend("carol", { scope: "file", auto: true }, async ({ signUp }) => signUp("carol@example.com"))
  .extend("carolAgent", { scope: "file", auto: true }, async ({ galaxy, carol }) =>
    dataOf(Agent, await api(galaxy, "POST", "/api/agents", { token: carol.accessToken, body: { name: "Private", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "" } })))
  .extend("login", { scope: "file" }, async ({ galaxy }) => async (email: string) =>
    dataOf(LoginResult, await api(galaxy, "POST", "/api/auth/login", { body: { email, password: PASSWORD } })))
  .extend("asCli", { scope: "file" }, async ({ galaxy }) => async <T>(command: (bus: CliBus) => Promise<T>): Promise<T> => {
    const bus = await connectCli(parseCliEnv({ NATS_URL: galaxy.env.natsUrl, GALAXY_BUS_PREFIX: galaxy.env.busPrefix }));
    try {
      return await command(bus);
    } finally {
      await bus.close();
    }
  })
  .extend("grant", { scope: "file" }, async ({ asCli }) => (email: string) => asCli((bus) => grantSystemAdmin(bus, email)));
startGalaxyFirst(test);

/** A system admin's access token, once the first test has granted the flag. */
let adminToken: string;

describe("system admins", () => {
  test("the CLI grants the flag; it opens /api/admin/* from the next sign-in", async ({ galaxy, ada, login, grant }) => {
    // A token issued before the grant does not carry it.
    const early = await api(galaxy, "GET", "/api/admin/security-incidents", { token: ada.accessToken });
    expect(early.status).toBe(403);
    expect(codeOf(early.body)).toBe("system_admin_required");

    expect(await grant("ada@example.com")).toMatchObject({ userId: ada.user.id, changed: true });
    adminToken = (await login("ada@example.com")).accessToken;
    const response = await api(galaxy, "GET", "/api/admin/security-incidents", { token: adminToken });
    expect(response.status).toBe(200);
  });

  test("security incidents list another user's cross-workspace attempt, from every workspace, newest first", async ({ galaxy, ada, mallory, carolAgent }) => {
    const attempt = await api(galaxy, "GET", `/api/agents/${carolAgent.id}`, { token: mallory.accessToken, headers: { "user-agent": "probe/1.0" } });
    expect(attempt.status).toBe(404);
    const incidents = await eventually(async () => {
      const page = Incidents.parse((await api(galaxy, "GET", "/api/admin/security-incidents", { token: adminToken })).body);
      return page.data.some((e) => e.resourceId === carolAgent.id) ? page : undefined;
    }, 10_000, "the attempt among the incidents");
    const entry = incidents.data.find((e) => e.resourceId === carolAgent.id);
    expect(entry).toMatchObject({
      workspaceId: mallory.workspace.id,
      action: "security.cross_workspace_attempt",
      actor: { type: "user", id: mallory.user.id },
      resourceType: "agent",
      userAgent: "probe/1.0",
    });
    expect(incidents.data.every((e) => e.action.startsWith("security."))).toBe(true);
    const times = incidents.data.map((e) => Date.parse(e.occurredAt));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect(incidents.pagination).toMatchObject({ total: incidents.data.length, limit: 20, offset: 0, hasMore: false });

    // A second attempt, in ada's own workspace this time: both workspaces' incidents in one list.
    await api(galaxy, "GET", `/api/agents/${carolAgent.id}`, { token: ada.accessToken });
    const both = await eventually(async () => {
      const page = Incidents.parse((await api(galaxy, "GET", "/api/admin/security-incidents?limit=1", { token: adminToken })).body);
      return (page.pagination.total ?? 0) >= 2 ? page : undefined;
    }, 10_000, "both incidents");
    expect(both.data).toHaveLength(1);
    expect(both.data[0]?.workspaceId).toBe(ada.workspace.id);
    expect(both.pagination.hasMore).toBe(true);
    const filtered = Incidents.parse((await api(galaxy, "GET", `/api/admin/security-incidents?workspaceId=${mallory.workspace.id}`, { token: adminToken })).body);
    expect(filtered.data.length).toBeGreaterThan(0);
    expect(filtered.data.every((e) => e.workspaceId === mallory.workspace.id)).toBe(true);
  });

  test("the grant is in the system workspace's audit log, which only system admins read", async ({ galaxy, ada, carol }) => {
    const log = await eventually(async () => {
      const page = z.object({ data: z.array(AuditEntry) }).parse((await api(galaxy, "GET", "/api/admin/audit-logs", { token: adminToken })).body);
      return page.data.some((e) => e.action === "user.system_admin_granted") ? page : undefined;
    }, 10_000, "the grant in the system audit log");
    expect(log.data.find((e) => e.action === "user.system_admin_granted")).toMatchObject({
      workspaceId: SYSTEM_WORKSPACE_ID,
      actor: { type: "service", id: "galaxy-cli" },
      resourceType: "user",
      resourceId: ada.user.id,
    });
    const plain = await api(galaxy, "GET", "/api/admin/audit-logs", { token: carol.accessToken });
    expect(plain.status).toBe(403);
  });

  test("a non-admin, an API key (even an admin's) and no credential are refused", async ({ galaxy, mallory, carol }) => {
    for (const token of [mallory.accessToken, carol.accessToken]) {
      const response = await api(galaxy, "GET", "/api/admin/security-incidents", { token });
      expect(response.status).toBe(403);
      expect(codeOf(response.body)).toBe("system_admin_required");
    }
    const key = dataOf(CreatedApiKey, await api(galaxy, "POST", "/api/api-keys", { token: adminToken, body: { name: "ops", role: "owner" } }));
    const byKey = await api(galaxy, "GET", "/api/admin/security-incidents", { token: key.key });
    expect(byKey.status).toBe(403);
    expect((await api(galaxy, "GET", "/api/admin/security-incidents")).status).toBe(401);
  });

  test("the flag opens nothing inside a workspace the admin is not a member of", async ({ galaxy, carol, carolAgent }) => {
    const agent = await api(galaxy, "GET", `/api/agents/${carolAgent.id}`, { token: adminToken });
    expect(agent.status).toBe(404);
    expect(codeOf(agent.body)).toBe("agent_not_found");
    const switched = await api(galaxy, "POST", "/api/auth/switch", { token: adminToken, body: { workspaceId: carol.workspace.id } });
    expect(switched.status).toBe(404);
    const agents = z.object({ data: z.array(Agent) }).parse((await api(galaxy, "GET", "/api/agents", { token: adminToken })).body);
    expect(agents.data).toEqual([]);
  });
});

describe("subscription tiers", () => {
  test("a system admin reads and sets a workspace's tier; the workspace's own audit log records the change; others are refused", async ({ galaxy, carol, asCli }) => {
    const url = `/api/admin/workspaces/${carol.workspace.id}/tier`;
    expect(dataOf(Tier, await api(galaxy, "GET", url, { token: adminToken }))).toMatchObject({ tier: "free", limits: { concurrency: 2 }, updatedAt: null });
    expect((await api(galaxy, "GET", "/api/me", { token: carol.accessToken })).headers.get("ratelimit-limit")).toBe("30000");
    const set = await api(galaxy, "PUT", url, { token: adminToken, body: { tier: "enterprise" } });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    expect(dataOf(Tier, set)).toMatchObject({ workspaceId: carol.workspace.id, tier: "enterprise", limits: { concurrency: 50, maxQueued: 10_000, monthlyTokens: 500_000_000 } });

    const entry = await eventually(async () => {
      const page = z.object({ data: z.array(AuditEntry) }).parse((await api(galaxy, "GET", "/api/audit-logs?action=workspace.tier_changed", { token: carol.accessToken })).body);
      return page.data[0];
    }, 10_000, "the change in the workspace's audit log");
    expect(entry).toMatchObject({ workspaceId: carol.workspace.id, resourceType: "workspace", resourceId: carol.workspace.id, changes: { before: { tier: "free" }, after: { tier: "enterprise" } } });

    // The API's rate limits follow from the credential's next lease (a second at most): enterprise's
    // for a user, 6,000 a minute (this Galaxy's limits are a hundred times the defaults: 300 → 30,000 for free).
    await eventually(async () => ((await api(galaxy, "GET", "/api/me", { token: carol.accessToken })).headers.get("ratelimit-limit") === "600000" ? true : undefined), 5_000, "enterprise's rate limit");

    // The same Idempotency-Key answers the stored answer again.
    const again = { token: adminToken, body: { tier: "enterprise" }, headers: { "idempotency-key": "tier-1" } };
    expect((await api(galaxy, "PUT", url, again)).status).toBe(200);
    expect((await api(galaxy, "PUT", url, again)).headers.get("idempotent-replayed")).toBe("true");

    // The CLI reads and sets it too.
    expect((await asCli((bus) => showTier(bus, carol.workspace.id))).tier).toBe("enterprise");
    const rateTiers = new Redis(galaxy.env.redisUrl, { keyPrefix: galaxy.env.redisPrefix });
    try {
      expect((await asCli((bus) => setTier(bus, rateTiers, carol.workspace.id, "pro"))).tier).toBe("pro");
      expect(await rateTiers.hget(RATE_TIERS_KEY, carol.workspace.id)).toBe("pro");
    } finally {
      rateTiers.disconnect();
    }

    // `galaxy tiers set` as a program: a Redis out of reach fails with 1 and says what is set and what to do; a bad tier is bad usage.
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (text: string) => void out.push(text), err: (text: string) => void err.push(text), env: { NATS_URL: galaxy.env.natsUrl, GALAXY_BUS_PREFIX: galaxy.env.busPrefix, REDIS_URL: `redis://127.0.0.1:${await freePort()}` } };
    expect(await runCli(["tiers", "set", carol.workspace.id, "enterprise"], io)).toBe(EXIT.failure);
    expect(err.join("\n")).toMatch(/set for executions, but the API rate limits' copy in Redis is not .*REDIS_URL/);
    expect(await runCli(["tiers", "set", carol.workspace.id, "platinum"], io)).toBe(EXIT.usage);
    expect(await runCli(["tiers", "show", carol.workspace.id], io)).toBe(EXIT.ok);
    expect(out.join("\n")).toContain(`${carol.workspace.id} is on enterprise`);

    expect(codeOf((await api(galaxy, "PUT", url, { token: carol.accessToken, body: { tier: "enterprise" } })).body)).toBe("system_admin_required");
    expect((await api(galaxy, "GET", url, { token: carol.accessToken })).status).toBe(403);
    const bad = await api(galaxy, "PUT", url, { token: adminToken, body: { tier: "platinum" } });
    expect(bad.status).toBe(400);
    expect(ErrorBody.parse(bad.body).details).toHaveProperty("body.tier");
    expect((await api(galaxy, "GET", `/api/admin/workspaces/${SYSTEM_WORKSPACE_ID}/tier`, { token: adminToken })).status).toBe(400);
  });
});

describe("signing keys", () => {
  test("after `keys rotate --now` and `keys revoke`, tokens of the revoked key are refused within seconds; new ones work", async ({ galaxy, carol, carolAgent, login, asCli }) => {
    // A token of the old key, first used after the rotation: the gateway then caches a claim
    // that the new key signed, so only the gateway's own JWKS can refuse the token later.
    const early = await login("carol@example.com");
    const rotation = await asCli((bus) => rotateKeys(bus, { now: true }));
    expect(rotation.previousKid).not.toBeNull();
    // Rotation alone takes nothing away: the retired key still verifies.
    expect((await api(galaxy, "GET", "/api/agents", { token: early.accessToken })).status).toBe(200);
    expect((await api(galaxy, "GET", "/api/agents", { token: carol.accessToken })).status).toBe(200);

    await asCli((bus) => revokeKey(bus, rotation.previousKid ?? ""));
    const started = Date.now();
    const refused = await eventually(async () => {
      const response = await api(galaxy, "GET", "/api/agents", { token: early.accessToken });
      return response.status === 200 ? undefined : response;
    }, 5_000, "the revoked key's token to be refused");
    expect(codeOf(refused.body)).toBe("invalid_token");
    // Claims the old key signed are refused by the services too (their verifiers dropped it).
    expect((await api(galaxy, "GET", "/api/agents", { token: carol.accessToken })).status).toBe(401);
    expect(refused.status).toBe(401);
    expect(Date.now() - started).toBeLessThan(5_000);
    const jwks = z.object({ keys: z.array(z.object({ kid: z.string() })) }).parse((await api(galaxy, "GET", "/.well-known/jwks.json")).body);
    expect(jwks.keys.map((key) => key.kid)).not.toContain(rotation.previousKid);

    const fresh = await login("carol@example.com");
    const agents = z.object({ data: z.array(Agent) }).parse((await api(galaxy, "GET", "/api/agents", { token: fresh.accessToken })).body);
    expect(agents.data.map((agent) => agent.id)).toEqual([carolAgent.id]);
  });
});
