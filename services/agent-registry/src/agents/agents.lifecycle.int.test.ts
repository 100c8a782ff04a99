import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { v7 as uuidv7 } from "uuid";
import type { Bus } from "@galaxy/bus";
import { inWorkspace, type Kysely } from "@galaxy/db";
import { SecretBox } from "@galaxy/secrets";
import { connectTestBus, createTestEnv, serviceDb, TestClaims, testLogger, type TestEnv } from "@galaxy/testkit";
import { createAgentRegistry, type AgentRegistry } from "../app";
import type { RegistryDb } from "../db";

let env: TestEnv;
let claims: TestClaims;
let identityBus: Bus;
let registryBus: Bus;
let caller: Bus;
let db: Kysely<RegistryDb>;
let registry: AgentRegistry;

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

const body = { name: "Notifier", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "", notifyUrl: "https://hooks.example.com/galaxy" };

async function as(ws: string, input: { sub?: string; act?: "user" | "service"; role?: "owner" | "member" } = {}) {
  const claim = await claims.sign({ ws, sub: input.sub ?? randomUUID(), act: input.act ?? "user", role: input.role ?? "owner" });
  return { claim, workspaceId: ws };
}

describe("registry.agents.notify_secret", () => {
  test("answers the execution worker's service claim alone; the secret is stored sealed", async () => {
    const ws = uuidv7();
    const owner = await as(ws);
    const created = await caller.request("registry.agents.create", body, owner);
    expect(created.notifySecret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const secret = created.notifySecret ?? "";

    const worker = await as(ws, { sub: "execution-worker", act: "service" });
    expect(await caller.request("registry.agents.notify_secret", { agentId: created.id, version: 1 }, worker)).toEqual({ notifyUrl: body.notifyUrl, notifySecret: secret });
    // Not the owner, not another service: a 403 whatever the role.
    await expect(caller.request("registry.agents.notify_secret", { agentId: created.id, version: 1 }, owner)).rejects.toMatchObject({ status: 403 });
    await expect(caller.request("registry.agents.notify_secret", { agentId: created.id, version: 1 }, await as(ws, { sub: "audit", act: "service" }))).rejects.toMatchObject({ status: 403 });
    // Another workspace's worker claim finds nothing.
    await expect(caller.request("registry.agents.notify_secret", { agentId: created.id, version: 1 }, await as(uuidv7(), { sub: "execution-worker", act: "service" }))).rejects.toMatchObject({
      status: 404,
      code: "notify_secret_not_found",
    });

    const stored = await inWorkspace(db, ws, (tx) => tx.selectFrom("agent_versions").select("notify_secret_sealed").where("agent_id", "=", created.id).executeTakeFirstOrThrow());
    expect(stored.notify_secret_sealed).not.toContain(secret.slice("whsec_".length, 20));
    expect(new SecretBox(env.masterKey).open(stored.notify_secret_sealed ?? "")).toBe(secret);

    // A version that drops the URL has no secret; the old version keeps its own, even after the agent is deleted.
    const cleared = await caller.request("registry.agents.update", { id: created.id, changes: { notifyUrl: null } }, owner);
    expect(cleared).toMatchObject({ version: 2, notifyUrl: null });
    expect(cleared.notifySecret).toBeUndefined();
    await expect(caller.request("registry.agents.notify_secret", { agentId: created.id, version: 2 }, worker)).rejects.toMatchObject({ status: 404, code: "notify_secret_not_found" });
    await caller.request("registry.agents.delete", { id: created.id }, owner);
    expect((await caller.request("registry.agents.notify_secret", { agentId: created.id, version: 1 }, worker)).notifySecret).toBe(secret);
  });
});

describe("registry.agents.update", () => {
  test("concurrent changes queue on the agent's row: each makes its own version, none is lost", async () => {
    const ws = uuidv7();
    const owner = await as(ws);
    const created = await caller.request("registry.agents.create", { ...body, notifyUrl: undefined }, owner);
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) => caller.request("registry.agents.update", { id: created.id, changes: { systemPrompt: `Prompt ${i}` } }, owner)),
    );
    expect(results.map((r) => r.version).sort()).toEqual([2, 3, 4, 5, 6]);
    const versions = await caller.request("registry.agents.versions", { id: created.id, limit: 10, offset: 0 }, owner);
    expect(versions.items.map((v) => v.version)).toEqual([6, 5, 4, 3, 2, 1]);
    expect(new Set(versions.items.slice(0, 5).map((v) => v.config.systemPrompt)).size).toBe(5);
  });

  test("a service claim may not change, pause or delete an agent", async () => {
    const ws = uuidv7();
    const created = await caller.request("registry.agents.create", { ...body, notifyUrl: undefined }, await as(ws));
    const service = await as(ws, { sub: "execution-worker", act: "service" });
    await expect(caller.request("registry.agents.update", { id: created.id, changes: { name: "Taken over" } }, service)).rejects.toMatchObject({ status: 403 });
    await expect(caller.request("registry.agents.pause", { id: created.id }, service)).rejects.toMatchObject({ status: 403 });
    await expect(caller.request("registry.agents.delete", { id: created.id }, service)).rejects.toMatchObject({ status: 403 });
  });
});
