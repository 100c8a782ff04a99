import { describe, expect } from "vitest";
import { v7 as uuidv7 } from "uuid";
import type { Agent } from "@galaxy/contracts";
import { sql } from "@galaxy/db";
import { batchIntakeTest, startHarnessFirst } from "../../test/support/fixtures";
import { eventually } from "../../test/support/harness";
import { webhookOrder } from "../../test/support/webhook-orders";
import type { BatchOrder } from "./batch-intake";
import { CLAIM_LOCK } from "./intake";

/**
 * When the batch intake takes the scheduler's claim lock (docs/webhooks.md, "Intake"): a lone
 * delivery to a workspace with nothing waiting takes it with its transaction's first round
 * trip; one to a workspace whose last batch left executions queued does not wait for it.
 */

const test = batchIntakeTest("batch-lock-test")
  .extend("orderOf", { scope: "file" }, async ({ h }) => (agent: Agent): Promise<BatchOrder> => webhookOrder(h.bus, agent, { message: "hello" }))
  /** Holds the claim lock on a connection of its own until `release` is called. */
  .extend("holdClaimLock", { scope: "file" }, async ({ h }) => async (): Promise<{ release: () => Promise<void> }> => {
    let release = () => undefined as void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked = () => undefined as void;
    const held = new Promise<void>((resolve) => (locked = resolve));
    const done = h.db.connection().execute(async (connection) => {
      await sql`begin`.execute(connection);
      await sql`select pg_advisory_xact_lock(hashtext(${CLAIM_LOCK}))`.execute(connection);
      locked();
      await released;
      await sql`commit`.execute(connection);
    });
    await Promise.race([held, done]);
    return {
      release: async () => {
        release();
        await done;
      },
    };
  })
  /** Whether a transaction of the workspace (its id is a literal of the transaction's first round trip) waits for an advisory lock. */
  .extend("waitsForTheLock", { scope: "file" }, async ({ h }) => async (workspaceId: string): Promise<boolean> => {
    const result = await sql<{ n: number }>`
      select count(*)::int as n from pg_locks l join pg_stat_activity a on a.pid = l.pid
       where l.locktype = 'advisory' and not l.granted and a.query like ${`%${workspaceId}%`}`.execute(h.db);
    return (result.rows[0]?.n ?? 0) > 0;
  });

describe("BatchIntake and the claim lock", () => {
  test("a lone delivery to a workspace with nothing waiting takes the claim lock before it reads", async ({ h, batch, orderOf, holdClaimLock, waitsForTheLock }) => {
    const ws = uuidv7();
    const agent = await h.activeAgent(ws);
    const lock = await holdClaimLock();
    let settled = false;
    const started = batch.startAll([await orderOf(agent)]).finally(() => (settled = true));
    try {
      await eventually(async () => ((await waitsForTheLock(ws)) ? true : null), 10_000, "the intake waiting for the claim lock");
      expect(settled).toBe(false);
    } finally {
      await lock.release();
    }
    expect(await started).toEqual([null]);
  });

  test("a lone delivery to a workspace whose last batch left executions queued does not wait for the claim lock", async ({ h, batch, orderOf, holdClaimLock, waitsForTheLock }) => {
    const ws = uuidv7();
    const agent = await h.activeAgent(ws);
    // Nothing could be taken at once: this batch leaves its execution queued.
    expect(await batch.startAll([await orderOf(agent)])).toEqual([null]);
    const lock = await holdClaimLock();
    try {
      let settled = false;
      const next = batch.startAll([await orderOf(agent)]).finally(() => (settled = true));
      const first = await eventually(async () => (settled ? "queued" : (await waitsForTheLock(ws)) ? "waited for the claim lock" : null), 10_000, "the intake");
      expect(first).toBe("queued");
      expect(await next).toEqual([null]);
    } finally {
      await lock.release();
    }
  });
});

startHarnessFirst(test);