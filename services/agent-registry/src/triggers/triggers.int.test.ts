import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import type { Bus } from "@galaxy/bus";
import { EventEnvelope, GalaxyError, type Role } from "@galaxy/contracts";
import { inWorkspace, type Kysely } from "@galaxy/db";
import { connectTestBus, createTestEnv, serviceDb, TestClaims, testLogger, type TestEnv } from "@galaxy/testkit";
import { createAgentRegistry, type AgentRegistry } from "../app";
import type { RegistryDb } from "../db";

/**
 * Triggers in the registry, over the bus as the gateway asks: ownership decides who manages
 * them, secrets never leave but to `registry.triggers.resolve`, and another workspace's
 * trigger is a 404 and a `security.cross_workspace_attempt`.
 */

let env: TestEnv;
let claims: TestClaims;
let identityBus: Bus;
let registryBus: Bus;
let caller: Bus;
let db: Kysely<RegistryDb>;
let registry: AgentRegistry;
const published: EventEnvelope[] = [];

beforeAll(async () => {
  env = await createTestEnv(inject("engines"));
  claims = await TestClaims.create();
  identityBus = await connectTestBus(env, "identity");
  await claims.serve(identityBus);
  db = serviceDb<RegistryDb>(env, "agent-registry");
  registryBus = await connectTestBus(env, "agent-registry");
  registry = createAgentRegistry({ db, bus: registryBus, logger: testLogger("agent-registry"), masterKey: env.masterKey });
  await registry.start();
  caller = await connectTestBus(env, "gateway");
  const decoder = new TextDecoder();
  caller.watch("evt.>", (msg) => void published.push(EventEnvelope.parse(JSON.parse(decoder.decode(msg.data)))));
  await caller.flush();
});

afterAll(async () => {
  await caller?.close();
  await registryBus?.stopIntake();
  await registry?.stop();
  await registryBus?.close();
  await identityBus?.close();
  await db?.destroy();
  await env?.cleanup();
});

async function as(ws: string, role: Role, sub = randomUUID()): Promise<{ claim: string; workspaceId: string; sub: string }> {
  return { claim: await claims.sign({ ws, sub, role }), workspaceId: ws, sub };
}

async function agentOf(who: { claim: string; workspaceId: string }): Promise<string> {
  const agent = await caller.request("registry.agents.create", { name: "Hooked", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "" }, who);
  await caller.request("registry.agents.activate", { id: agent.id }, who);
  return agent.id;
}

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
  test("a member manages the triggers of its own agents, not another's; a viewer reads them", async () => {
    const ws = randomUUID();
    const member = await as(ws, "member");
    const otherMember = await as(ws, "member");
    const viewer = await as(ws, "viewer");
    const agentId = await agentOf(member);
    const created = await caller.request("registry.triggers.create", { agentId, trigger: { type: "webhook" } }, member);
    expect(created.secret).toMatch(/^whsec_/);
    expect((await refusal(caller.request("registry.triggers.create", { agentId, trigger: { type: "webhook" } }, otherMember))).code).toBe("forbidden");
    expect((await refusal(caller.request("registry.triggers.create", { agentId, trigger: { type: "webhook" } }, viewer))).code).toBe("forbidden");
    expect((await refusal(caller.request("registry.triggers.delete", { agentId, triggerId: created.id }, otherMember))).status).toBe(403);
    const page = await caller.request("registry.triggers.list", { agentId, limit: 20, offset: 0 }, viewer);
    expect(page.items.map((t) => t.id)).toEqual([created.id]);
    expect(JSON.stringify(page)).not.toContain("whsec_");
  });
});

describe("secrets", () => {
  test("are sealed at rest, absent from every event, and resolved for deliveries only while the trigger lives", async () => {
    const owner = await as(randomUUID(), "owner");
    const agentId = await agentOf(owner);
    const created = await caller.request("registry.triggers.create", { agentId, trigger: { type: "webhook" } }, owner);
    const secret = created.secret ?? "";
    const row = await inWorkspace(db, owner.workspaceId, (tx) => tx.selectFrom("triggers").select("secret_sealed").where("id", "=", created.id).executeTakeFirstOrThrow());
    expect(row.secret_sealed).toMatch(/^v1\./);
    expect(row.secret_sealed).not.toContain(secret.slice(6));

    expect(await caller.request("registry.triggers.resolve", { triggerId: created.id })).toMatchObject({ workspaceId: owner.workspaceId, agentId, agentStatus: "active", secrets: [secret], validUntil: null });
    const rotated = await caller.request("registry.triggers.rotate_secret", { agentId, triggerId: created.id }, owner);
    const resolved = await caller.request("registry.triggers.resolve", { triggerId: created.id });
    expect(resolved.secrets).toEqual([rotated.secret, secret]);
    expect(resolved.validUntil).toBe(rotated.previousSecretExpiresAt);

    await eventually(() => (published.some((e) => e.type === "trigger.secret_rotated" && e.workspaceId === owner.workspaceId) ? true : undefined), "trigger.secret_rotated");
    const mine = published.filter((e) => e.workspaceId === owner.workspaceId);
    expect(mine.map((e) => e.type)).toEqual(expect.arrayContaining(["trigger.created", "trigger.secret_rotated"]));
    expect(JSON.stringify(mine)).not.toContain(secret.slice(6));
    expect(JSON.stringify(mine)).not.toContain(rotated.secret.slice(6));

    await caller.request("registry.triggers.delete", { agentId, triggerId: created.id }, owner);
    expect((await refusal(caller.request("registry.triggers.resolve", { triggerId: created.id }))).code).toBe("trigger_not_found");
  });

  test("a schedule's id is no webhook: resolve answers 404", async () => {
    const owner = await as(randomUUID(), "owner");
    const agentId = await agentOf(owner);
    const schedule = await caller.request("registry.triggers.create", { agentId, trigger: { type: "schedule", cron: "0 9 * * 1-5", timezone: "Europe/Paris" } }, owner);
    expect(schedule).toMatchObject({ type: "schedule", cron: "0 9 * * 1-5", timezone: "Europe/Paris", url: null, input: null });
    expect((await refusal(caller.request("registry.triggers.resolve", { triggerId: schedule.id }))).status).toBe(404);
  });
});

describe("another workspace's trigger", () => {
  test("is a 404, and the attempt is a security.cross_workspace_attempt in the caller's workspace", async () => {
    const owner = await as(randomUUID(), "owner");
    const agentId = await agentOf(owner);
    const trigger = await caller.request("registry.triggers.create", { agentId, trigger: { type: "webhook" } }, owner);
    const stranger = await as(randomUUID(), "owner");
    const strangersAgent = await agentOf(stranger);

    // Its agent named directly: the agent is the foreign resource.
    expect((await refusal(caller.request("registry.triggers.list", { agentId, limit: 20, offset: 0 }, stranger))).code).toBe("agent_not_found");
    // Its trigger under the stranger's own agent: the trigger is.
    expect((await refusal(caller.request("registry.triggers.rotate_secret", { agentId: strangersAgent, triggerId: trigger.id }, stranger))).code).toBe("trigger_not_found");
    const reports = await eventually(() => {
      const found = published.filter((e) => e.type === "security.cross_workspace_attempt" && e.workspaceId === stranger.workspaceId);
      return found.length >= 2 ? found : undefined;
    }, "two reports");
    expect(reports.map((e) => e.data)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ targetType: "agent", targetId: agentId, operation: "triggers.list" }),
        expect.objectContaining({ targetType: "trigger", targetId: trigger.id, operation: "triggers.rotate_secret" }),
      ]),
    );
    // A random id is the same 404, and reports nothing.
    const before = published.filter((e) => e.type === "security.cross_workspace_attempt" && e.workspaceId === stranger.workspaceId).length;
    expect((await refusal(caller.request("registry.triggers.delete", { agentId: strangersAgent, triggerId: randomUUID() }, stranger))).code).toBe("trigger_not_found");
    await caller.flush();
    expect(published.filter((e) => e.type === "security.cross_workspace_attempt" && e.workspaceId === stranger.workspaceId)).toHaveLength(before);
  });
});
