import { describe, expect, test } from "vitest";
import { createLogger } from "@galaxy/observability";
import type { ClaimedExecution } from "./executions.repository";
import { Scheduler, type RunSignals, type SchedulerOptions } from "./scheduler";

const logger = createLogger({ service: "scheduler-test", level: "silent" });
const tick = (ms = 5) => new Promise((resolve) => setTimeout(resolve, ms));

/** A queue in memory standing in for the executions table. */
function world(options: { queued: number; runMs: number; concurrency: number; shutdownGraceMs?: number }) {
  const queue: ClaimedExecution[] = Array.from({ length: options.queued }, (_, i) => ({ id: `e${i}`, workspaceId: "w" }));
  const stats = { claims: 0, running: 0, maxRunning: 0, finished: [] as string[], renewals: 0 };
  const scheduler = new Scheduler({
    concurrency: options.concurrency,
    leaseMs: 60,
    pollIntervalMs: 60_000,
    shutdownGraceMs: options.shutdownGraceMs ?? 60_000,
    backoffMs: 50,
    maxBackoffMs: 200,
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
      return "finished";
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

  test("a place kept for an intake is not claimed; launched, the execution runs here; released, it is free again", async () => {
    const { stats, scheduler, queue } = world({ queued: 0, runMs: 30, concurrency: 2 });
    scheduler.start();
    await tick(20);
    const kept = scheduler.reserve();
    const other = scheduler.reserve();
    expect(kept).not.toBeNull();
    expect(other).not.toBeNull();
    expect(scheduler.reserve()).toBeNull();
    other?.release();
    queue.push({ id: "q1", workspaceId: "w" }, { id: "q2", workspaceId: "w" });
    scheduler.wake();
    while (stats.running < 1) await tick();
    // One place is kept: one of the two queued runs, the other waits.
    expect(queue.map((e) => e.id)).toEqual(["q2"]);
    kept?.launch({ id: "taken", workspaceId: "w" });
    expect(scheduler.isRunning("taken")).toBe(true);
    while (stats.finished.length < 3) await tick();
    expect(stats.maxRunning).toBe(2);
    expect(stats.finished).toContain("taken");
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

  test("stop waits for running executions within the grace period, renewing their leases meanwhile, and claims nothing more", async () => {
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
      ...BASE,
      concurrency: 1,
      leaseMs: 30,
      claim: async () => (aborted ? [] : [{ id: "x", workspaceId: "w" }]),
      run: (_execution, { lease }) =>
        new Promise((resolve) => {
          lease.addEventListener("abort", () => {
            aborted = true;
            resolve("finished");
          });
        }),
      renew: async () => false,
    });
    scheduler.start();
    while (!aborted) await tick();
    await scheduler.stop();
    expect(aborted).toBe(true);
  });

  test("stop is bounded: after the grace period running pipelines are told to stop, and stop returns once they handed back", async () => {
    const seen: string[] = [];
    let renewals = 0;
    const scheduler = new Scheduler({
      ...BASE,
      concurrency: 2,
      leaseMs: 60,
      shutdownGraceMs: 150,
      claim: async () => (seen.length === 0 ? [{ id: "quick", workspaceId: "w" }, { id: "slow", workspaceId: "w" }] : []),
      run: (execution, { stop }) => {
        seen.push(execution.id);
        if (execution.id === "quick") return tick(20).then(() => "finished");
        // A model call of minutes, which only the stop signal cuts short.
        return new Promise((resolve) => {
          const timer = setTimeout(() => resolve("finished"), 60_000);
          stop.addEventListener("abort", () => {
            clearTimeout(timer);
            void tick(10).then(() => resolve("handed_back"));
          });
        });
      },
      renew: async () => {
        renewals += 1;
        return true;
      },
    });
    scheduler.start();
    while (seen.length < 2) await tick();
    const before = Date.now();
    await scheduler.stop();
    const took = Date.now() - before;
    expect(took).toBeGreaterThanOrEqual(145);
    expect(took).toBeLessThan(1_000);
    expect(scheduler.active).toBe(0);
    expect(renewals).toBeGreaterThan(0);
  });

  test("a pipeline that ends within the grace period never sees the stop signal", async () => {
    let stopSeen: boolean | undefined;
    const scheduler = new Scheduler({
      ...BASE,
      concurrency: 1,
      shutdownGraceMs: 1_000,
      claim: async () => (stopSeen === undefined ? [{ id: "x", workspaceId: "w" }] : []),
      run: async (_execution, { stop }) => {
        stopSeen = false;
        await tick(50);
        stopSeen = stop.aborted;
        return "finished";
      },
    });
    scheduler.start();
    while (stopSeen === undefined) await tick();
    await scheduler.stop();
    expect(stopSeen).toBe(false);
  });

  test("a run that finds a dependency unavailable pauses claims with a growing backoff, and claims resume once it answers", async () => {
    const claimsAt: number[] = [];
    let available = false;
    let done = false;
    const scheduler = new Scheduler({
      ...BASE,
      concurrency: 4,
      backoffMs: 40,
      maxBackoffMs: 160,
      // The execution goes back to the queue each time, so every claim finds it.
      claim: async () => {
        claimsAt.push(Date.now());
        return done ? [] : [{ id: "x", workspaceId: "w" }];
      },
      run: async () => {
        if (!available) return "unavailable";
        done = true;
        return "finished";
      },
    });
    scheduler.start();
    // Wakes during a pause do not claim.
    const wakes = setInterval(() => scheduler.wake(), 2);
    await tick(400);
    const duringOutage = claimsAt.length;
    // 0, 40, 120, 280 ms: a handful of claims, not hundreds.
    expect(duringOutage).toBeGreaterThanOrEqual(3);
    expect(duringOutage).toBeLessThanOrEqual(6);
    const gaps = claimsAt.slice(1).map((at, i) => at - (claimsAt[i] ?? at));
    expect(gaps[0]).toBeGreaterThanOrEqual(35);
    expect(gaps[1]).toBeGreaterThanOrEqual(75);
    expect(scheduler.backingOff).toBe(true);
    available = true;
    // Within the longest pause (160 ms) the scheduler claims again and runs it.
    const back = Date.now();
    while (!done) await tick();
    expect(Date.now() - back).toBeLessThan(400);
    clearInterval(wakes);
    await scheduler.stop();
  });
});

const BASE: SchedulerOptions = {
  concurrency: 1,
  leaseMs: 60,
  pollIntervalMs: 60_000,
  shutdownGraceMs: 60_000,
  backoffMs: 50,
  maxBackoffMs: 200,
  logger,
  claim: async () => [],
  run: async () => "finished",
  renew: async () => true,
};

describe("cancel", () => {
  test("aborts the cancel signal of the execution running here, and only that one", async () => {
    const seen = new Map<string, RunSignals>();
    const ended: string[] = [];
    const queue: ClaimedExecution[] = [{ id: "a", workspaceId: "w" }, { id: "b", workspaceId: "w" }];
    const scheduler = new Scheduler({
      concurrency: 2,
      leaseMs: 60_000,
      pollIntervalMs: 60_000,
      shutdownGraceMs: 1_000,
      backoffMs: 50,
      maxBackoffMs: 200,
      logger,
      claim: async (limit) => queue.splice(0, limit),
      run: async (execution, signals) => {
        seen.set(execution.id, signals);
        // Runs until it is cancelled (or the worker stops).
        await new Promise<void>((resolve) => {
          signals.cancel.addEventListener("abort", () => resolve(), { once: true });
          signals.stop.addEventListener("abort", () => resolve(), { once: true });
        });
        ended.push(execution.id);
        return "finished";
      },
      renew: async () => true,
    });
    scheduler.start();
    while (seen.size < 2) await tick();
    expect(scheduler.isRunning("a")).toBe(true);
    expect(scheduler.cancel("elsewhere")).toBe(false);
    expect(scheduler.cancel("a")).toBe(true);
    while (ended.length < 1) await tick();
    expect(ended).toEqual(["a"]);
    expect(seen.get("b")?.cancel.aborted).toBe(false);
    expect(scheduler.isRunning("a")).toBe(false);
    await scheduler.stop();
    expect(ended).toEqual(["a", "b"]);
  });
});
