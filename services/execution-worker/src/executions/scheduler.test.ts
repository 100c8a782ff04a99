import { describe, expect, test } from "vitest";
import { createLogger } from "@galaxy/observability";
import type { ClaimedExecution } from "./executions.repository";
import { Scheduler } from "./scheduler";

const logger = createLogger({ service: "scheduler-test", level: "silent" });
const tick = (ms = 5) => new Promise((resolve) => setTimeout(resolve, ms));

/** A queue in memory standing in for the executions table. */
function world(options: { queued: number; runMs: number; concurrency: number }) {
  const queue: ClaimedExecution[] = Array.from({ length: options.queued }, (_, i) => ({ id: `e${i}`, workspaceId: "w" }));
  const stats = { claims: 0, running: 0, maxRunning: 0, finished: [] as string[], renewals: 0 };
  const scheduler = new Scheduler({
    concurrency: options.concurrency,
    leaseMs: 60,
    pollIntervalMs: 60_000,
    logger,
    claim: async (limit) => {
      stats.claims += 1;
      await tick(1);
      return queue.splice(0, limit);
    },
    run: async (execution) => {
      stats.running += 1;
      stats.maxRunning = Math.max(stats.maxRunning, stats.running);
      await tick(options.runMs);
      stats.running -= 1;
      stats.finished.push(execution.id);
    },
    renew: async () => {
      stats.renewals += 1;
      return true;
    },
  });
  return { queue, stats, scheduler };
}

describe("the scheduler", () => {
  test("runs everything queued, never more than its concurrency at once", async () => {
    const { stats, scheduler } = world({ queued: 25, runMs: 10, concurrency: 4 });
    scheduler.start();
    while (stats.finished.length < 25) await tick();
    expect(stats.maxRunning).toBe(4);
    await scheduler.stop();
  });

  test("many wakes while a claim is in flight cost one more claim, not one each", async () => {
    const { stats, scheduler, queue } = world({ queued: 0, runMs: 1, concurrency: 4 });
    scheduler.start();
    await tick(20);
    const before = stats.claims;
    queue.push({ id: "late", workspaceId: "w" });
    for (let i = 0; i < 50; i++) scheduler.wake();
    while (stats.finished.length < 1) await tick();
    await tick(20);
    expect(stats.claims - before).toBeLessThanOrEqual(3);
    await scheduler.stop();
  });

  test("does not claim without being woken", async () => {
    const { stats, scheduler, queue } = world({ queued: 0, runMs: 1, concurrency: 2 });
    scheduler.start();
    await tick(20);
    const claims = stats.claims;
    queue.push({ id: "unannounced", workspaceId: "w" });
    await tick(50);
    expect(stats.claims).toBe(claims);
    expect(stats.finished).toEqual([]);
    scheduler.wake();
    while (stats.finished.length < 1) await tick();
    await scheduler.stop();
  });

  test("stop waits for running executions, renewing their leases meanwhile, and claims nothing more", async () => {
    const { stats, scheduler, queue } = world({ queued: 2, runMs: 120, concurrency: 2 });
    scheduler.start();
    while (stats.running < 2) await tick();
    queue.push({ id: "after-stop", workspaceId: "w" });
    await scheduler.stop();
    expect(stats.finished.sort()).toEqual(["e0", "e1"]);
    expect(stats.renewals).toBeGreaterThan(0);
    scheduler.wake();
    await tick(20);
    expect(queue).toHaveLength(1);
  });

  test("aborts a pipeline whose lease another instance took", async () => {
    let aborted = false;
    const scheduler = new Scheduler({
      concurrency: 1,
      leaseMs: 30,
      pollIntervalMs: 60_000,
      logger,
      claim: async () => (aborted ? [] : [{ id: "x", workspaceId: "w" }]),
      run: (_execution, lease) =>
        new Promise<void>((resolve) => {
          lease.addEventListener("abort", () => {
            aborted = true;
            resolve();
          });
        }),
      renew: async () => false,
    });
    scheduler.start();
    while (!aborted) await tick();
    await scheduler.stop();
    expect(aborted).toBe(true);
  });
});
