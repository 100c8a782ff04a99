import { describe, expect } from "vitest";
import { v7 as uuidv7 } from "uuid";
import type { Agent } from "@galaxy/contracts";
import { batchIntakeTest, startHarnessFirst } from "../../test/support/fixtures";
import { eventually } from "../../test/support/harness";
import { holdClaimLock, statementWaitingForALock } from "../../test/support/claim-lock";
import { webhookOrder } from "../../test/support/webhook-orders";
import type { BatchOrder } from "./batch-intake";

/**
 * When the batch intake takes the scheduler's claim lock (docs/webhooks.md, "Intake"): a lone
 * delivery to a workspace with nothing waiting takes it with its transaction's first round
 * trip; one to a workspace whose last batch left executions queued does not wait for it.
 */

const test = batchIntakeTest("batch-lock-test")
  .extend("orderOf", { scope: "file" }, async ({ h }) => (agent: Agent): Promise<BatchOrder> => webhookOrder(h.bus, agent, { message: "hello" }))
  .extend("holdClaimLock", { scope: "file" }, async ({ h }) => () => holdClaimLock(h.db))
  /** Whether a transaction of the workspace waits for an advisory lock. */
  .extend("waitsForTheLock", { scope: "file" }, async ({ h }) => async (workspaceId: string): Promise<boolean> => (await statementWaitingForALock(h.db, workspaceId)) !== null);

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