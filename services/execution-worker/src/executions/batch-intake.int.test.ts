import { describe, expect } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { GalaxyError, type Agent } from "@galaxy/contracts";
import { inWorkspace, sql } from "@galaxy/db";
import { setTier } from "../quota/quota.repository";
import { TIERS } from "../quota/tiers";
import { batchIntakeTest, startHarnessFirst } from "../../test/support/fixtures";
import { eventually } from "../../test/support/harness";
import { webhookOrder } from "../../test/support/webhook-orders";
import { BatchIntake, type BatchOrder } from "./batch-intake";
import { Intake } from "./intake";

/**
 * The batch intake webhook deliveries go through (docs/executions.md, "Intake"): many starts in
 * one transaction, each workspace's under its own setting, each order checked alone.
 */

const test = batchIntakeTest("batch-test")
  .extend("orderOf", { scope: "file" }, async ({ h }) => (agent: Agent, input: unknown): Promise<BatchOrder> => webhookOrder(h.bus, agent, input))
  /** The executions among `ids` the workspace sees, and their `execution.queued` events in its outbox. */
  .extend("written", { scope: "file" }, async ({ h }) => async (workspaceId: string, ids: string[]): Promise<{ executions: string[]; queuedEvents: number; workspaces: string[] }> =>
    inWorkspace(h.db, workspaceId, async (tx) => {
      const rows = await sql<{ id: string; workspace_id: string }>`select id::text, workspace_id::text from executions where id = any(${ids}::uuid[]) order by id`.execute(tx);
      const events = await sql<{ n: number }>`select count(*)::int as n from outbox where type = 'execution.queued' and (payload -> 'data' ->> 'executionId')::uuid = any(${ids}::uuid[])`.execute(tx);
      return { executions: rows.rows.map((r) => r.id), queuedEvents: events.rows[0]?.n ?? -1, workspaces: [...new Set(rows.rows.map((r) => r.workspace_id))] };
    }));
startHarnessFirst(test);

const CHECKED_INPUT = { type: "object", properties: { message: { type: "string" } }, required: ["message"], additionalProperties: false };

describe("BatchIntake.startAll", () => {
  test("a delivery refused among good ones is refused alone; the others are created once, each with one execution.queued", async ({ h, batch, orderOf, written }) => {
    const ws = uuidv7();
    const agent = await h.activeAgent(ws, { inputSchema: CHECKED_INPUT });
    const orders = [
      await orderOf(agent, { message: "one" }),
      await orderOf(agent, { message: "two" }),
      await orderOf(agent, { nope: 3 }),
      await orderOf(agent, { message: "four" }),
    ];
    const outcomes = await batch.startAll(orders);
    expect(outcomes.map((o) => o === null)).toEqual([true, true, false, true]);
    const refusal = outcomes[2];
    expect(refusal).toBeInstanceOf(GalaxyError);
    expect(refusal instanceof GalaxyError ? refusal.code : null).toBe("input_invalid");
    const good = [orders[0], orders[1], orders[3]].map((o) => o?.executionId ?? "");
    const after = await written(ws, orders.map((o) => o.executionId));
    expect(after.executions).toEqual([...good].sort());
    expect(after.queuedEvents).toBe(3);
  });

  test("the same batch handed again (a redelivery, a replay) creates nothing new and refuses the same delivery", async ({ h, batch, orderOf, written }) => {
    const ws = uuidv7();
    const agent = await h.activeAgent(ws, { inputSchema: CHECKED_INPUT });
    const orders = [await orderOf(agent, { message: "a" }), await orderOf(agent, { bad: true }), await orderOf(agent, { message: "c" })];
    const first = await batch.startAll(orders);
    const before = await written(ws, orders.map((o) => o.executionId));
    const again = await batch.startAll(orders);
    const twice = await batch.startAll([...orders, ...orders]);
    expect(again.map((o) => o === null)).toEqual(first.map((o) => o === null));
    expect(twice.map((o) => o === null)).toEqual([true, false, true, true, false, true]);
    const after = await written(ws, orders.map((o) => o.executionId));
    expect(after).toEqual(before);
    expect(after.executions).toHaveLength(2);
    expect(after.queuedEvents).toBe(2);
  });

  test("two workspaces in one batch: each one's executions are written under its own workspace and seen only there", async ({ h, batch, orderOf, written }) => {
    const wsA = uuidv7();
    const wsB = uuidv7();
    const agentA = await h.activeAgent(wsA);
    const agentB = await h.activeAgent(wsB);
    const orders = [await orderOf(agentA, { n: 1 }), await orderOf(agentB, { n: 2 }), await orderOf(agentA, { n: 3 }), await orderOf(agentB, { n: 4 })];
    expect(await batch.startAll(orders)).toEqual([null, null, null, null]);
    const ids = orders.map((o) => o.executionId);
    const seenByA = await written(wsA, ids);
    const seenByB = await written(wsB, ids);
    expect(seenByA.executions).toEqual([orders[0]?.executionId, orders[2]?.executionId].sort());
    expect(seenByB.executions).toEqual([orders[1]?.executionId, orders[3]?.executionId].sort());
    expect(seenByA.workspaces).toEqual([wsA]);
    expect(seenByB.workspaces).toEqual([wsB]);
    expect([seenByA.queuedEvents, seenByB.queuedEvents]).toEqual([2, 2]);
  });

  test("deliveries past a free workspace's queue cap are refused one by one (quota_exceeded); those under it are queued", async ({ h, batch, orderOf, written }) => {
    const ws = uuidv7();
    const agent = await h.activeAgent(ws);
    await inWorkspace(h.db, ws, (tx) => setTier(tx, ws, "free"));
    // The worker runs what it can meanwhile: hold the model so that what it claims stays running.
    await h.devModel.control({ latencyMs: 5_000 });
    try {
      const cap = TIERS.free.maxQueued;
      const orders = await Promise.all(Array.from({ length: cap + 3 }, (_, i) => orderOf(agent, { i })));
      const outcomes = await batch.startAll(orders);
      expect(outcomes.slice(0, cap).every((o) => o === null)).toBe(true);
      const refused = outcomes.slice(cap);
      expect(refused.map((o) => (o instanceof GalaxyError ? `${o.status} ${o.code} ${o.details?.quota}` : String(o)))).toEqual(refused.map(() => "429 quota_exceeded queued_executions"));
      expect((await written(ws, orders.map((o) => o.executionId))).executions).toHaveLength(cap);
      await inWorkspace(h.db, ws, (tx) => sql`update executions set status = 'cancelled', completed_at = now() where status = 'queued'`.execute(tx));
    } finally {
      await h.devModel.control({ reset: true });
    }
  });

  test("a workspace with nothing queued takes at once what fits its concurrency and the places kept; the rest is queued", async ({ h, relay, orderOf }) => {
    const ws = uuidv7();
    const agent = await h.activeAgent(ws);
    const launched: string[] = [];
    let kept = 0;
    let released = 0;
    // Three free places on this instance.
    const reserve = () => {
      if (kept >= 3) return null;
      kept += 1;
      return { launch: (execution: { id: string }) => void launched.push(execution.id), release: () => void (released += 1) };
    };
    const deps = { db: h.db, bus: h.bus, relay, owner: "batch-test", leaseMs: 30_000, reserve, onQueued: () => undefined };
    const taking = new BatchIntake({ ...deps, intake: new Intake(deps) });
    const orders = await Promise.all(Array.from({ length: 4 }, (_, i) => orderOf(agent, { i })));
    expect(await taking.startAll(orders)).toEqual([null, null, null, null]);
    const statuses = await Promise.all(orders.map(async (o) => (await h.row(ws, o.executionId)).status));
    // Free: two at once, under the workspace's concurrency, though three places were free.
    expect(statuses).toEqual(["running", "running", "queued", "queued"]);
    expect(launched).toEqual([orders[0]?.executionId, orders[1]?.executionId]);
    // Places are kept only for what the workspace may take.
    expect([kept, released]).toEqual([2, 0]);
    expect(await h.stepStatuses(ws, orders[0]?.executionId ?? "")).toEqual(["running"]);
    await inWorkspace(h.db, ws, (tx) => sql`update executions set status = 'cancelled', completed_at = now() where status in ('queued', 'running')`.execute(tx));
  });

  test("an agent the projection has not seen yet is asked of the registry, for that delivery alone", async ({ h, batch, orderOf, written }) => {
    const ws = uuidv7();
    const known = await h.activeAgent(ws);
    const unseen = h.registry.put(ws, { status: "active" });
    const gets = h.registry.gets;
    const orders = [await orderOf(known, { n: 1 }), await orderOf(unseen, { n: 2 }), await orderOf(known, { n: 3 })];
    expect(await batch.startAll(orders)).toEqual([null, null, null]);
    expect(h.registry.gets - gets).toBe(1);
    const after = await written(ws, orders.map((o) => o.executionId));
    expect(after.executions).toEqual(orders.map((o) => o.executionId).sort());
    await eventually(async () => ((await h.row(ws, orders[1]?.executionId ?? "")).status === "completed" ? true : null), 10_000, "the registry-asked execution to run");
  });
});
