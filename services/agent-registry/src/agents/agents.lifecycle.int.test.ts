import { randomUUID } from "node:crypto";
import { describe, expect } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { inWorkspace } from "@galaxy/db";
import { SecretBox } from "@galaxy/secrets";
import { registryTest } from "../../test/support/registry-fixtures";

/**
 * The registry running on the file's database and bus (registry-fixtures.ts: `db`, `gatewayBus`) and
 * `as`, request options with a claim of a workspace, once per file.
 */
const test = registryTest.extend("as", { scope: "file" }, async ({ claims }) =>
  async (ws: string, input: { sub?: string; act?: "user" | "service"; role?: "owner" | "member" } = {}) => {
    const claim = await claims.sign({ ws, sub: input.sub ?? randomUUID(), act: input.act ?? "user", role: input.role ?? "owner" });
    return { claim, workspaceId: ws };
  });

// The registry runs before the first test, under the hooks' time limit.
test.beforeAll(async ({ gatewayBus }) => {
  void gatewayBus;
});

const body = { name: "Notifier", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "", notifyUrl: "https://hooks.example.com/galaxy" };

describe("registry.agents.notify_secret", () => {
  test("answers the execution worker's service claim alone; the secret is stored sealed", async ({ as, gatewayBus, db, env }) => {
    const ws = uuidv7();
    const owner = await as(ws);
    const created = await gatewayBus.request("registry.agents.create", body, owner);
    expect(created.notifySecret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const secret = created.notifySecret ?? "";

    const worker = await as(ws, { sub: "execution-worker", act: "service" });
    expect(await gatewayBus.request("registry.agents.notify_secret", { agentId: created.id, version: 1 }, worker)).toEqual({ notifyUrl: body.notifyUrl, notifySecret: secret });
    // Not the owner, not another service: a 403 whatever the role.
    await expect(gatewayBus.request("registry.agents.notify_secret", { agentId: created.id, version: 1 }, owner)).rejects.toMatchObject({ status: 403 });
    await expect(gatewayBus.request("registry.agents.notify_secret", { agentId: created.id, version: 1 }, await as(ws, { sub: "audit", act: "service" }))).rejects.toMatchObject({ status: 403 });
    // Another workspace's worker claim finds nothing.
    await expect(gatewayBus.request("registry.agents.notify_secret", { agentId: created.id, version: 1 }, await as(uuidv7(), { sub: "execution-worker", act: "service" }))).rejects.toMatchObject({
      status: 404,
      code: "notify_secret_not_found",
    });

    const stored = await inWorkspace(db, ws, (tx) => tx.selectFrom("agent_versions").select("notify_secret_sealed").where("agent_id", "=", created.id).executeTakeFirstOrThrow());
    expect(stored.notify_secret_sealed).not.toContain(secret.slice("whsec_".length, 20));
    expect(new SecretBox(env.masterKey).open(stored.notify_secret_sealed ?? "")).toBe(secret);

    // A version that drops the URL has no secret; the old version keeps its own, even after the agent is deleted.
    const cleared = await gatewayBus.request("registry.agents.update", { id: created.id, changes: { notifyUrl: null } }, owner);
    expect(cleared).toMatchObject({ version: 2, notifyUrl: null });
    expect(cleared.notifySecret).toBeUndefined();
    await expect(gatewayBus.request("registry.agents.notify_secret", { agentId: created.id, version: 2 }, worker)).rejects.toMatchObject({ status: 404, code: "notify_secret_not_found" });
    await gatewayBus.request("registry.agents.delete", { id: created.id }, owner);
    expect((await gatewayBus.request("registry.agents.notify_secret", { agentId: created.id, version: 1 }, worker)).notifySecret).toBe(secret);
  });
});

describe("registry.agents.update", () => {
  test("concurrent changes queue on the agent's row: each makes its own version, none is lost", async ({ as, gatewayBus }) => {
    const ws = uuidv7();
    const owner = await as(ws);
    const created = await gatewayBus.request("registry.agents.create", { ...body, notifyUrl: undefined }, owner);
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) => gatewayBus.request("registry.agents.update", { id: created.id, changes: { systemPrompt: `Prompt ${i}` } }, owner)),
    );
    expect(results.map((r) => r.version).sort()).toEqual([2, 3, 4, 5, 6]);
    const versions = await gatewayBus.request("registry.agents.versions", { id: created.id, limit: 10, offset: 0 }, owner);
    expect(versions.items.map((v) => v.version)).toEqual([6, 5, 4, 3, 2, 1]);
    expect(new Set(versions.items.slice(0, 5).map((v) => v.config.systemPrompt)).size).toBe(5);
  });

  test("a service claim may not change, pause or delete an agent", async ({ as, gatewayBus }) => {
    const ws = uuidv7();
    const created = await gatewayBus.request("registry.agents.create", { ...body, notifyUrl: undefined }, await as(ws));
    const service = await as(ws, { sub: "execution-worker", act: "service" });
    await expect(gatewayBus.request("registry.agents.update", { id: created.id, changes: { name: "Taken over" } }, service)).rejects.toMatchObject({ status: 403 });
    await expect(gatewayBus.request("registry.agents.pause", { id: created.id }, service)).rejects.toMatchObject({ status: 403 });
    await expect(gatewayBus.request("registry.agents.delete", { id: created.id }, service)).rejects.toMatchObject({ status: 403 });
  });
});
