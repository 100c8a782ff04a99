import { randomUUID } from "node:crypto";
import { describe, expect } from "vitest";
import { GalaxyError, type Role } from "@galaxy/contracts";
import { inWorkspace } from "@galaxy/db";
import { publishedTest } from "../../test/support/published-fixtures";

/**
 * Triggers in the registry, over the bus as the gateway asks: ownership decides who manages
 * them, secrets never leave but to `registry.triggers.resolve`, and another workspace's
 * trigger is a 404 and a `security.cross_workspace_attempt`.
 */

/** Request options of a caller: a workspace and the claim signed for the caller's subject. */
interface Caller {
  claim: string;
  workspaceId: string;
  sub: string;
}

/**
 * On the registry's fixtures (published-fixtures.ts: the registry on the file's `db`, the gateway's
 * `gatewayBus`, the events `published` on the wire), each set up once per file:
 * - `as`: request options of a caller of a workspace with a role, its claim signed;
 * - `agentOf`: creates and activates an agent as a caller, and answers its id.
 */
const test = publishedTest
  .extend("as", { scope: "file" }, async ({ claims }) => async (ws: string, role: Role, sub = randomUUID()): Promise<Caller> => ({
    claim: await claims.sign({ ws, sub, role }),
    workspaceId: ws,
    sub,
  }))
  .extend("agentOf", { scope: "file" }, async ({ gatewayBus }) => async (who: { claim: string; workspaceId: string }): Promise<string> => {
    const agent = await gatewayBus.request("registry.agents.create", { name: "Hooked", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "" }, who);
    await gatewayBus.request("registry.agents.activate", { id: agent.id }, who);
    return agent.id;
  });

async function refusal(promise: Promise<unknown>): Promise<GalaxyError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof GalaxyError)) throw new Error(`expected a GalaxyError, got ${String(error)}`);
  return error;
}

async function eventually<T>(check: () => T | undefined, what: string): Promise<T> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe("who manages triggers", () => {
  test("a member manages the triggers of its own agents, not another's; a viewer reads them", async ({ gatewayBus, as, agentOf }) => {
    const ws = randomUUID();
    const member = await as(ws, "member");
    const otherMember = await as(ws, "member");
    const viewer = await as(ws, "viewer");
    const agentId = await agentOf(member);
    const created = await gatewayBus.request("registry.triggers.create", { agentId, trigger: { type: "webhook" } }, member);
    expect(created.secret).toMatch(/^whsec_/);
    expect((await refusal(gatewayBus.request("registry.triggers.create", { agentId, trigger: { type: "webhook" } }, otherMember))).code).toBe("forbidden");
    expect((await refusal(gatewayBus.request("registry.triggers.create", { agentId, trigger: { type: "webhook" } }, viewer))).code).toBe("forbidden");
    expect((await refusal(gatewayBus.request("registry.triggers.delete", { agentId, triggerId: created.id }, otherMember))).status).toBe(403);
    const page = await gatewayBus.request("registry.triggers.list", { agentId, limit: 20, offset: 0 }, viewer);
    expect(page.items.map((t) => t.id)).toEqual([created.id]);
    expect(JSON.stringify(page)).not.toContain("whsec_");
  });
});

describe("secrets", () => {
  test("are sealed at rest, absent from every event, and resolved for deliveries only while the trigger lives", async ({ gatewayBus, db, published, as, agentOf }) => {
    const owner = await as(randomUUID(), "owner");
    const agentId = await agentOf(owner);
    const created = await gatewayBus.request("registry.triggers.create", { agentId, trigger: { type: "webhook" } }, owner);
    const secret = created.secret ?? "";
    const row = await inWorkspace(db, owner.workspaceId, (tx) => tx.selectFrom("triggers").select("secret_sealed").where("id", "=", created.id).executeTakeFirstOrThrow());
    expect(row.secret_sealed).toMatch(/^v1\./);
    expect(row.secret_sealed).not.toContain(secret.slice(6));

    expect(await gatewayBus.request("registry.triggers.resolve", { triggerId: created.id })).toMatchObject({ workspaceId: owner.workspaceId, agentId, agentStatus: "active", secrets: [secret], validUntil: null });
    const rotated = await gatewayBus.request("registry.triggers.rotate_secret", { agentId, triggerId: created.id }, owner);
    const resolved = await gatewayBus.request("registry.triggers.resolve", { triggerId: created.id });
    expect(resolved.secrets).toEqual([rotated.secret, secret]);
    expect(resolved.validUntil).toBe(rotated.previousSecretExpiresAt);

    await eventually(() => (published.some((p) => p.event.type === "trigger.secret_rotated" && p.event.workspaceId === owner.workspaceId) ? true : undefined), "trigger.secret_rotated");
    const mine = published.filter((p) => p.event.workspaceId === owner.workspaceId).map((p) => p.event);
    expect(mine.map((e) => e.type)).toEqual(expect.arrayContaining(["trigger.created", "trigger.secret_rotated"]));
    expect(JSON.stringify(mine)).not.toContain(secret.slice(6));
    expect(JSON.stringify(mine)).not.toContain(rotated.secret.slice(6));

    await gatewayBus.request("registry.triggers.delete", { agentId, triggerId: created.id }, owner);
    expect((await refusal(gatewayBus.request("registry.triggers.resolve", { triggerId: created.id }))).code).toBe("trigger_not_found");
  });

  test("a schedule's id is no webhook: resolve answers 404", async ({ gatewayBus, as, agentOf }) => {
    const owner = await as(randomUUID(), "owner");
    const agentId = await agentOf(owner);
    const schedule = await gatewayBus.request("registry.triggers.create", { agentId, trigger: { type: "schedule", cron: "0 9 * * 1-5", timezone: "Europe/Paris" } }, owner);
    expect(schedule).toMatchObject({ type: "schedule", cron: "0 9 * * 1-5", timezone: "Europe/Paris", url: null, input: null });
    expect((await refusal(gatewayBus.request("registry.triggers.resolve", { triggerId: schedule.id }))).status).toBe(404);
  });
});

describe("a schedule's input", () => {
  test("is checked against the agent's inputSchema when the schedule is made: a 400 naming each bad field, and nothing stored", async ({ gatewayBus, db, as }) => {
    const owner = await as(randomUUID(), "owner");
    const inputSchema = { type: "object", properties: { city: { type: "string" }, days: { type: "integer", maximum: 7 } }, required: ["city"] };
    const agent = await gatewayBus.request("registry.agents.create", { name: "Forecast", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "", inputSchema }, owner);
    const schedule = (input?: unknown) => ({ agentId: agent.id, trigger: { type: "schedule" as const, cron: "0 6 * * *", ...(input === undefined ? {} : { input }) } });

    const bad = await refusal(gatewayBus.request("registry.triggers.create", schedule({ days: 30 }), owner));
    expect(bad).toMatchObject({ status: 400, code: "input_invalid" });
    expect(bad.details).toEqual({ "trigger.input.city": "must have required property 'city'", "trigger.input.days": "must be <= 7" });
    // No input is null, which an object schema refuses as every tick would.
    expect((await refusal(gatewayBus.request("registry.triggers.create", schedule(), owner))).details).toEqual({ "trigger.input": "must be object" });
    const none = await inWorkspace(db, owner.workspaceId, (tx) => tx.selectFrom("triggers").select("id").where("agent_id", "=", agent.id).execute());
    expect(none).toEqual([]);

    const good = await gatewayBus.request("registry.triggers.create", schedule({ city: "Lyon", days: 3 }), owner);
    expect(good).toMatchObject({ type: "schedule", input: { city: "Lyon", days: 3 } });
  });
});

describe("another workspace's trigger", () => {
  test("is a 404, and the attempt is a security.cross_workspace_attempt in the caller's workspace", async ({ gatewayBus, published, as, agentOf }) => {
    const owner = await as(randomUUID(), "owner");
    const agentId = await agentOf(owner);
    const trigger = await gatewayBus.request("registry.triggers.create", { agentId, trigger: { type: "webhook" } }, owner);
    const stranger = await as(randomUUID(), "owner");
    const strangersAgent = await agentOf(stranger);

    // Its agent named directly: the agent is the foreign resource.
    expect((await refusal(gatewayBus.request("registry.triggers.list", { agentId, limit: 20, offset: 0 }, stranger))).code).toBe("agent_not_found");
    // Its trigger under the stranger's own agent: the trigger is.
    expect((await refusal(gatewayBus.request("registry.triggers.rotate_secret", { agentId: strangersAgent, triggerId: trigger.id }, stranger))).code).toBe("trigger_not_found");
    const reports = await eventually(() => {
      const found = published.filter((p) => p.event.type === "security.cross_workspace_attempt" && p.event.workspaceId === stranger.workspaceId).map((p) => p.event);
      return found.length >= 2 ? found : undefined;
    }, "two reports");
    expect(reports.map((e) => e.data)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ targetType: "agent", targetId: agentId, operation: "triggers.list" }),
        expect.objectContaining({ targetType: "trigger", targetId: trigger.id, operation: "triggers.rotate_secret" }),
      ]),
    );
    // A random id is the same 404, and reports nothing.
    const before = published.filter((p) => p.event.type === "security.cross_workspace_attempt" && p.event.workspaceId === stranger.workspaceId).length;
    expect((await refusal(gatewayBus.request("registry.triggers.delete", { agentId: strangersAgent, triggerId: randomUUID() }, stranger))).code).toBe("trigger_not_found");
    await gatewayBus.flush();
    expect(published.filter((p) => p.event.type === "security.cross_workspace_attempt" && p.event.workspaceId === stranger.workspaceId)).toHaveLength(before);
  });
});
