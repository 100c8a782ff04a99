import { describe, expect } from "vitest";
import type { Execution } from "@galaxy/contracts";
import { v7 as uuidv7 } from "uuid";
import { inWorkspace, sql } from "@galaxy/db";
import { createLogger } from "@galaxy/observability";
import { testLogger } from "@galaxy/testkit";
import { eventually } from "../../test/support/harness";
import { workerTest, startHarnessFirst } from "../../test/support/fixtures";
import { cancelQueued, claimQueuedExecutions } from "./executions.repository";
import { firstStepOf, runContext, startedEvent } from "./run";
import { PendingStart } from "./run-start";
import { writeRun } from "./run-store";

/**
 * A claimed run's start waits in memory for `startWriteDelayMs` (docs/decisions/0030): a run
 * that ends within it writes its start in the transaction of its end, and a longer one writes
 * its start on its own once the delay is over, while its model call goes on. The file's
 * worker claims nothing (concurrency 0), so each execution is queued rather than taken by its
 * intake, and a worker of the test's own claims and runs it.
 */
interface Recorded {
  type: string;
  seq: number;
  /** The id of the transaction that wrote the event: equal for events written together. */
  tx: string;
}

const test = workerTest({ concurrency: 0 })
  .extend("ws", async () => uuidv7())
  .extend("recorded", async ({ h, ws }) => async (executionId: string): Promise<Recorded[]> =>
    inWorkspace(h.db, ws, async (tx) => {
      const { rows } = await sql<Recorded>`
        select v.type, v.seq, v.xmin::text as tx from execution_events v where v.execution_id = ${executionId} order by v.seq`.execute(tx);
      return rows;
    }),
  )
  /** A queued execution claimed by an owner of the test's own (no worker runs it), given back and cancelled after the test. */
  .extend("claimedByTest", async ({ h, ws }, { onCleanup }) => async (message: string): Promise<{ queued: Execution; owner: string }> => {
    const agent = await h.activeAgent(ws);
    const queued = await h.startExecution(ws, agent.id, { message });
    const owner = `run-start-test-${uuidv7()}`;
    expect(await claimQueuedExecutions(h.db, owner, 1, 30_000)).toEqual([{ id: queued.id, workspaceId: ws }]);
    onCleanup(async () => {
      await writeRun(h.db, ws, { executionId: queued.id, owner, change: { kind: "hand_back" }, events: [], steps: [] });
      await inWorkspace(h.db, ws, (tx) => cancelQueued(tx, queued.id, new Date()));
    });
    return { queued, owner };
  });
startHarnessFirst(test);

/** queued, started, the steps' events, completed: numbered 1, 2, 3… in that order. */
function expectRunEvents(events: Recorded[]): void {
  const types = events.map((e) => e.type);
  expect(types.slice(0, 2)).toEqual(["execution.queued", "execution.started"]);
  expect(types.at(-1)).toBe("execution.completed");
  expect(types.slice(2, -1).length).toBeGreaterThan(0);
  for (const type of types.slice(2, -1)) expect(type).toBe("execution.step_completed");
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
}

describe("a claimed run's start", () => {
  test("a run that ends within the delay writes its start with its end: one transaction, the events in order", async ({ h, ws, recorded, onTestFinished }) => {
    const agent = await h.activeAgent(ws);
    const queued = await h.startExecution(ws, agent.id, { message: "short" });
    expect(queued.status).toBe("queued");
    const runner = await h.spawnWorker({ concurrency: 1, startWriteDelayMs: 5_000 });
    onTestFinished(() => runner.stop());
    await eventually(async () => ((await h.row(ws, queued.id)).status === "completed" ? true : null), 15_000, "the run to complete");

    const events = await recorded(queued.id);
    expectRunEvents(events);
    const [queuedEvent, started, ...rest] = events;
    // The start, the steps and the end in one transaction; the queueing in another.
    for (const event of rest) expect(event.tx).toBe(started?.tx);
    expect(queuedEvent?.tx).not.toBe(started?.tx);
    const row = await h.row(ws, queued.id);
    expect(row.started_at).not.toBeNull();
    expect(row.started_at?.getTime()).toBeLessThanOrEqual(row.completed_at?.getTime() ?? 0);
    expect(new Set(await h.stepStatuses(ws, queued.id))).toEqual(new Set(["completed"]));
    // Published as well as stored, started before completed (the harness's view has no step events).
    await h.events.waitFor(queued.id, "execution.completed");
    expect(h.events.of(queued.id).map((e) => e.type)).toEqual(["execution.queued", "execution.started", "execution.completed"]);
  });

  test("a run still going when the delay is over writes its start on its own, visible while the model answers", async ({ h, ws, recorded, onTestFinished }) => {
    const agent = await h.activeAgent(ws);
    await h.devModel.control({ latencyMs: 2_000 });
    onTestFinished(() => h.devModel.control({ reset: true }));
    const queued = await h.startExecution(ws, agent.id, { message: "long" });
    const runner = await h.spawnWorker({ concurrency: 1, startWriteDelayMs: 200 });
    onTestFinished(() => runner.stop());

    // Before the model has answered: the start, its event and the open first step are stored.
    const whileRunning = await eventually(async () => ((await h.row(ws, queued.id)).started_at !== null ? h.row(ws, queued.id) : null), 1_500, "the start to be written");
    expect(whileRunning.status).toBe("running");
    expect(whileRunning.completed_at).toBeNull();
    expect(await h.stepStatuses(ws, queued.id)).toEqual(["running"]);
    expect((await recorded(queued.id)).map((e) => e.type)).toEqual(["execution.queued", "execution.started"]);

    await eventually(async () => ((await h.row(ws, queued.id)).status === "completed" ? true : null), 15_000, "the run to complete");
    const events = await recorded(queued.id);
    expectRunEvents(events);
    expect(events[1]?.tx).not.toBe(events.at(-1)?.tx);
    expect(new Set(await h.stepStatuses(ws, queued.id))).toEqual(new Set(["completed"]));
    const row = await h.row(ws, queued.id);
    expect(row.started_at?.getTime()).toBe(whileRunning.started_at?.getTime());
  });

  test("a run handed back within the delay writes no start: the next attempt records execution.started, once", async ({ h, ws, recorded, onTestFinished }) => {
    const agent = await h.activeAgent(ws);
    await h.devModel.control({ latencyMs: 3_000 });
    onTestFinished(() => h.devModel.control({ reset: true }));
    const queued = await h.startExecution(ws, agent.id, { message: "handed back" });
    const first = await h.spawnWorker({ concurrency: 1, startWriteDelayMs: 10_000, shutdownGraceMs: 100 });
    onTestFinished(() => first.stop());
    await eventually(async () => ((await h.row(ws, queued.id)).status === "running" ? true : null), 5_000, "the run to be claimed");
    await first.stop();

    const back = await h.row(ws, queued.id);
    expect(back.status).toBe("queued");
    expect(back.started_at).toBeNull();
    expect(await h.stepStatuses(ws, queued.id)).toEqual(["abandoned"]);
    expect((await recorded(queued.id)).map((e) => e.type)).toEqual(["execution.queued"]);

    await h.devModel.control({ reset: true });
    const next = await h.spawnWorker({ concurrency: 1, startWriteDelayMs: 5_000 });
    onTestFinished(() => next.stop());
    await eventually(async () => ((await h.row(ws, queued.id)).status === "completed" ? true : null), 15_000, "the next attempt to complete");
    const events = await recorded(queued.id);
    expectRunEvents(events);
    expect(events.filter((e) => e.type === "execution.started")).toHaveLength(1);
    expect(await h.stepStatuses(ws, queued.id)).toEqual(expect.arrayContaining(["abandoned", "completed"]));
  });

  test("a start whose write committed but whose answer was lost is not written twice: the store is asked first", async ({ h, ws, recorded, relay, claimedByTest }) => {
    const { queued, owner } = await claimedByTest("lost answer");
    const context = runContext({ claim: await h.bus.serviceClaims.get(ws), traceparent: undefined, correlationId: uuidv7() }, queued.id);
    const startedAt = new Date();
    const start = { startedAt, events: [startedEvent({ ...queued, startedAt: startedAt.toISOString() }, context)], firstStep: firstStepOf(null, 1, startedAt), abandonRunning: false };
    const deps = { db: h.db, relay, logger: testLogger("execution-worker"), owner };
    const run = { executionId: queued.id, workspaceId: ws };

    // The first write commits; the second stands for its retry after the answer was lost.
    await new PendingStart(deps, run, start, 60_000, {}).writeNow();
    const retried = new PendingStart(deps, run, start, 60_000, {});
    await retried.writeNow();
    const carried = await retried.take();

    expect(carried?.events).toEqual([]);
    expect((await recorded(queued.id)).map((e) => e.type)).toEqual(["execution.queued", "execution.started"]);
    expect((await h.row(ws, queued.id)).started_at?.getTime()).toBe(startedAt.getTime());
  });

  test("a start that cannot be written is tried again a second later, not at once over and over, and the end still carries it", async ({ h, ws, relay, claimedByTest, onTestFinished }) => {
    const { queued, owner } = await claimedByTest("unwritable start");
    const lines: string[] = [];
    const logger = createLogger({ service: "execution-worker", level: "error", destination: { write: (line: string) => void lines.push(line) } });
    // A first step whose start is no date: its write fails the same way every time.
    const startedAt = new Date();
    const start = { startedAt, events: [], firstStep: { ...firstStepOf(null, 1, startedAt), startedAt: new Date(Number.NaN) }, abandonRunning: false };
    const pending = new PendingStart({ db: h.db, relay, logger, owner }, { executionId: queued.id, workspaceId: ws }, start, 0, {});
    onTestFinished(() => pending.drop());

    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const failures = lines.filter((line) => line.includes("could not be written"));
    expect(failures.length).toBeGreaterThanOrEqual(1);
    expect(failures.length).toBeLessThanOrEqual(3);
    expect(await pending.take()).toEqual(start);
  });
});
