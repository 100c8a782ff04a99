import { describe, expect } from "vitest";
import { v7 as uuidv7 } from "uuid";
import type { ExecutionRow } from "./executions.repository";
import { eventually } from "../../test/support/harness";
import { workerTest, startHarnessFirst } from "../../test/support/fixtures";

/**
 * The pipeline needs a service claim from identity before it can record anything. While
 * identity is down, executions must wait in the queue (not leased, no attempt counted) and run
 * as soon as it answers again; never loop between lease expiries into `too_many_attempts`.
 */
const LEASE_MS = 1_000;
const MAX_BACKOFF_MS = 400;

// A short lease: an execution stuck leased would be claimed again, attempt after attempt, within the test.
const test = workerTest({ leaseMs: LEASE_MS, unavailableBackoffMs: 100, unavailableBackoffMaxMs: MAX_BACKOFF_MS })
  .extend("eventTypes", { scope: "file" }, async ({ h }) => (executionId: string) => h.events.of(executionId).map((event) => event.type));
startHarnessFirst(test);

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("an identity outage", () => {
  test("leaves executions queued and uncounted while nothing answers identity, and they run once it does", async ({ h, eventTypes }) => {
    // With identity up first, the worker has its keys: callers' claims and agent events verify without it.
    const warm = uuidv7();
    const warmAgent = await h.activeAgent(warm);
    const warmed = await h.startExecution(warm, warmAgent.id);
    await h.events.waitFor(warmed.id, "execution.completed");

    await h.identity.stop();
    const ws = uuidv7();
    const agent = await h.activeAgent(ws);
    // Counts the worker's tries at a service claim for this workspace (none is cached yet).
    const cache = h.bus.serviceClaims;
    const get = cache.get.bind(cache);
    let asked = 0;
    cache.get = (workspaceId) => {
      if (workspaceId === ws) asked += 1;
      return get(workspaceId);
    };

    const queued = await h.startExecution(ws, agent.id);
    // Several lease lengths of outage.
    const samples: ExecutionRow[] = [];
    const until = Date.now() + 3 * LEASE_MS;
    while (Date.now() < until) {
      samples.push(await h.row(ws, queued.id));
      await tick(25);
    }
    // It kept trying (backing off), never counted an attempt, and is back in the queue between tries.
    expect(asked).toBeGreaterThanOrEqual(3);
    expect(asked).toBeLessThanOrEqual(15);
    expect(Math.max(...samples.map((row) => row.attempt))).toBeLessThanOrEqual(1);
    expect(samples.some((row) => row.status === "queued" && row.lease_owner === null)).toBe(true);
    const waiting = await eventually(async () => {
      const row = await h.row(ws, queued.id);
      return row.status === "queued" ? row : null;
    }, 2_000, "the execution back in the queue");
    expect(waiting).toMatchObject({ status: "queued", attempt: 0, lease_owner: null, lease_expires_at: null, started_at: null });
    expect(await h.stepStatuses(ws, queued.id)).toEqual([]);
    expect(eventTypes(queued.id)).toEqual(["execution.queued"]);

    await h.identity.start();
    const back = Date.now();
    await h.events.waitFor(queued.id, "execution.completed", 5_000);
    // Within the longest pause, and a run.
    expect(Date.now() - back).toBeLessThan(MAX_BACKOFF_MS + 1_500);
    await tick(300);
    expect(eventTypes(queued.id)).toEqual(["execution.queued", "execution.started", "execution.completed"]);
    expect(await h.row(ws, queued.id)).toMatchObject({ status: "completed", attempt: 1, error: null, output: { text: "echo: hello" } });
    expect(await h.stepStatuses(ws, queued.id)).toEqual(["completed", "completed"]);
  });
});
