import { describe, expect } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { inWorkspace } from "@galaxy/db";
import { eventually } from "../../test/support/harness";
import { workerTest, startHarnessFirst } from "../../test/support/fixtures";

const ws = uuidv7();

const test = workerTest()
  .extend("rows", { scope: "file" }, async ({ h }) => async (workspaceId: string, agentId: string) =>
    inWorkspace(h.db, workspaceId, async (tx) => ({
      agent: await tx.selectFrom("agents").selectAll().where("agent_id", "=", agentId).executeTakeFirst(),
      versions: await tx.selectFrom("agent_versions").selectAll().where("agent_id", "=", agentId).orderBy("version").execute(),
    })))
  .extend("projectedAs", { scope: "file" }, async ({ rows }) => async (workspaceId: string, agentId: string, status: string, version = 1) =>
    eventually(async () => {
      const current = await rows(workspaceId, agentId);
      return current.agent?.status === status && current.agent.current_version === version ? current : null;
    }))
  /** Events are applied one at a time in stream order: once a later one shows, earlier ones were applied. */
  .extend("drained", { scope: "file" }, async ({ h, projectedAs }) => async (workspaceId: string): Promise<void> => {
    const { agent } = await h.registry.create(workspaceId);
    await projectedAs(workspaceId, agent.id, "draft");
  });
startHarnessFirst(test);

describe("the agent projection", () => {
  test("agent.created records the draft and its version 1 config; agent.activated makes it active", async ({ h, projectedAs }) => {
    const { agent } = await h.registry.create(ws, { systemPrompt: "Be exact.", temperature: 0.2 });
    const created = await projectedAs(ws, agent.id, "draft");
    expect(created.agent).toMatchObject({ workspace_id: ws, status: "draft", current_version: 1, deleted: false });
    expect(created.versions).toHaveLength(1);
    expect(created.versions[0]).toMatchObject({ version: 1, config: { provider: "openai", model: "galaxy-dev-echo", systemPrompt: "Be exact.", temperature: 0.2 } });

    await h.registry.activate(agent.id);
    const activated = await projectedAs(ws, agent.id, "active");
    expect(activated.versions).toEqual(created.versions);
  });

  test("a redelivered or replayed event changes nothing, not even back to draft", async ({ h, rows, projectedAs, drained }) => {
    const { agent, envelope: created } = await h.registry.create(ws);
    const activated = await h.registry.activate(agent.id);
    const before = await projectedAs(ws, agent.id, "active");

    // Copies under new message ids: JetStream stores them as the replay or late redelivery they stand for.
    await h.registry.publish(ws, "agent.activated", activated.data, activated.actor.id, { envelope: activated, messageId: uuidv7() });
    await h.registry.publish(ws, "agent.created", created.data, created.actor.id, { envelope: created, messageId: uuidv7() });
    await drained(ws);

    expect(await rows(ws, agent.id)).toEqual(before);
  });

  test("a copy of agent.created stamped the same millisecond as the activation after it leaves the agent active", async ({ h, rows, projectedAs, drained }) => {
    const { agent, envelope: created } = await h.registry.create(ws);
    const activated = await h.registry.activate(agent.id);
    const before = await projectedAs(ws, agent.id, "active");

    // Facts of one millisecond cannot be ordered by their time: a creation is the first fact, whatever its time.
    await h.registry.publish(ws, "agent.created", created.data, created.actor.id, { envelope: { ...created, occurredAt: activated.occurredAt }, messageId: uuidv7() });
    await drained(ws);

    expect(await rows(ws, agent.id)).toEqual(before);
  });

  test("the current version never moves backwards", async ({ h, rows, projectedAs, drained }) => {
    const { agent } = await h.registry.create(ws);
    await h.registry.publish(ws, "agent.activated", { agentId: agent.id, version: 2, status: "active", before: "draft" }, agent.createdBy);
    await projectedAs(ws, agent.id, "active", 2);
    await h.registry.publish(ws, "agent.activated", { agentId: agent.id, version: 1, status: "active", before: "active" }, agent.createdBy);
    await drained(ws);
    expect((await rows(ws, agent.id)).agent?.current_version).toBe(2);
  });

  test("an agent.created whose agent names another workspace is not applied anywhere", async ({ h, rows, drained }) => {
    const other = uuidv7();
    const agent = h.registry.put(other);
    await h.registry.publish(ws, "agent.created", { agent }, agent.createdBy);
    await drained(ws);
    expect((await rows(ws, agent.id)).agent).toBeUndefined();
    expect((await rows(other, agent.id)).agent).toBeUndefined();
  });

  test("agent.updated records the new version beside the old one and makes it current", async ({ h, rows, projectedAs, drained }) => {
    const agent = await h.registry.createActive(ws, { systemPrompt: "Version one." });
    await projectedAs(ws, agent.id, "active");
    const v2 = { ...agent, version: 2, systemPrompt: "Version two.", notifyUrl: "https://hooks.example.com/done", updatedAt: new Date().toISOString() };
    const { id: _id, workspaceId: _ws, status: _s, version: _v, createdBy: _c, createdAt: _ca, updatedAt: _u, ...before } = agent;
    const updated = await h.registry.publish(ws, "agent.updated", { agent: v2, before, previousVersion: 1 }, agent.createdBy);
    const projected = await projectedAs(ws, agent.id, "active", 2);
    expect(projected.versions.map((v) => [v.version, (v.config as { systemPrompt: string }).systemPrompt])).toEqual([[1, "Version one."], [2, "Version two."]]);
    expect(projected.versions[1]?.config).toMatchObject({ notifyUrl: "https://hooks.example.com/done" });

    // The same update again (a replay) changes nothing.
    await h.registry.publish(ws, "agent.updated", updated.data, updated.actor.id, { envelope: updated, messageId: uuidv7() });
    await drained(ws);
    expect(await rows(ws, agent.id)).toEqual(projected);
  });

  test("agent.paused stops the agent; agent.deleted is final, whatever arrives after it", async ({ h, rows, projectedAs, drained }) => {
    const agent = await h.registry.createActive(ws);
    await projectedAs(ws, agent.id, "active");
    await h.registry.publish(ws, "agent.paused", { agentId: agent.id, version: 1, status: "paused", before: "active" }, agent.createdBy);
    await projectedAs(ws, agent.id, "paused");

    const deleted = await h.registry.publish(ws, "agent.deleted", { agentId: agent.id, version: 1, status: "paused", deletedAt: new Date().toISOString() }, agent.createdBy);
    const gone = await eventually(async () => {
      const current = await rows(ws, agent.id);
      return current.agent?.deleted ? current : null;
    });
    expect(gone.agent).toMatchObject({ status: "paused", deleted: true });

    // A later activation (a stale redelivery from before the deletion, newer by its clock) does not bring it back.
    await h.registry.publish(ws, "agent.activated", { agentId: agent.id, version: 1, status: "active", before: "paused" }, agent.createdBy);
    await h.registry.publish(ws, "agent.deleted", deleted.data, deleted.actor.id, { envelope: deleted, messageId: uuidv7() });
    await drained(ws);
    expect((await rows(ws, agent.id)).agent?.deleted).toBe(true);

    // And the worker refuses to start it: the registry (asked because the projection says deleted) no longer knows it.
    h.registry.agents.delete(agent.id);
    await expect(h.startExecution(ws, agent.id)).rejects.toMatchObject({ status: 404, code: "agent_not_found" });
  });
});
