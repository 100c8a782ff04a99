import { describe, expect } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { startDevModel } from "@galaxy/dev-model/testing";
import { workerTest, startHarnessFirst } from "../../test/support/fixtures";
import { closeDevModel, eventually } from "../../test/support/harness";

/**
 * A stop must fit in the process's shutdown budget: model calls may take minutes, so after
 * the grace period the worker aborts them and hands their executions back to the queue.
 */
const ws = uuidv7();
const GRACE_MS = 300;
/** Far longer than any stop may take; only an aborted call ends sooner. */
const SLOW_MODEL_MS = 20_000;

const test = workerTest({ shutdownGraceMs: GRACE_MS })
  /** A second model server, without latency, for the instances that take over. */
  .extend("spare", { scope: "file" }, async ({}, { onCleanup }) => {
    const spare = await startDevModel();
    onCleanup(() => closeDevModel(spare));
    return spare;
  })
  .extend("onSpareModel", { scope: "file" }, async ({ spare }) => () => ({ openaiBaseUrl: `${spare.url}/v1`, anthropicBaseUrl: spare.url }))
  .extend("eventTypes", { scope: "file" }, async ({ h }) => (executionId: string) => h.events.of(executionId).map((event) => event.type))
  /** Waits until the execution's model call is under way on some instance. */
  .extend("calling", { scope: "file" }, async ({ h }) => async (executionId: string): Promise<void> => {
    await h.events.waitFor(executionId, "execution.started");
    await eventually(async () => ((await h.stepStatuses(ws, executionId)).includes("running") ? true : null));
  });

test.afterAll(async ({ h }) => {
  await h.devModel.control({ reset: true });
});

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("stopping a worker with executions running", () => {
  test("after the grace period the model call is aborted and the execution goes back to the queue, uncounted; another instance completes it once", async ({ h, onSpareModel, eventTypes, calling }) => {
    const agent = await h.activeAgent(ws);
    await h.devModel.control({ latencyMs: SLOW_MODEL_MS });
    const queued = await h.startExecution(ws, agent.id);
    await calling(queued.id);
    expect((await h.row(ws, queued.id)).attempt).toBe(1);

    const before = Date.now();
    await h.stopWorker();
    const took = Date.now() - before;
    expect(took).toBeGreaterThanOrEqual(GRACE_MS - 10);
    expect(took).toBeLessThan(3_000);

    const handedBack = await h.row(ws, queued.id);
    expect(handedBack).toMatchObject({ status: "queued", attempt: 0, lease_owner: null, lease_expires_at: null, output: null, error: null, completed_at: null });
    // The first start stays: the next attempt emits no second execution.started.
    expect(handedBack.started_at).not.toBeNull();
    expect(await h.stepStatuses(ws, queued.id)).toEqual(["abandoned"]);
    expect(eventTypes(queued.id)).toEqual(["execution.queued", "execution.started"]);

    const next = await h.spawnWorker(onSpareModel());
    await h.events.waitFor(queued.id, "execution.completed");
    // Long enough for a duplicate to show up.
    await tick(500);
    expect(eventTypes(queued.id)).toEqual(["execution.queued", "execution.started", "execution.completed"]);
    const done = await h.row(ws, queued.id);
    expect(done).toMatchObject({ status: "completed", attempt: 1, lease_owner: null, output: { text: "echo: hello" } });
    expect(done.started_at).toEqual(handedBack.started_at);
    expect(await h.stepStatuses(ws, queued.id)).toEqual(["abandoned", "completed", "completed"]);
    await next.stop();
  });

  test("the stopping instance wakes the others: a running instance takes the execution at once, not after a poll or a lease", async ({ h, onSpareModel, eventTypes, calling }) => {
    // The only instance running when the execution starts.
    const first = await h.spawnWorker({ shutdownGraceMs: GRACE_MS });
    const agent = await h.activeAgent(ws);
    await h.devModel.control({ latencyMs: SLOW_MODEL_MS });
    const queued = await h.startExecution(ws, agent.id);
    await calling(queued.id);
    // Its safety poll is a minute away and the lease is 30 s: only a wake-up brings it in time.
    await h.spawnWorker({ ...onSpareModel(), pollIntervalMs: 60_000 });

    const before = Date.now();
    await first.stop();
    await h.events.waitFor(queued.id, "execution.completed", 5_000);
    expect(Date.now() - before).toBeLessThan(5_000);
    await tick(500);
    expect(eventTypes(queued.id)).toEqual(["execution.queued", "execution.started", "execution.completed"]);
    expect(await h.row(ws, queued.id)).toMatchObject({ status: "completed", attempt: 1, output: { text: "echo: hello" } });
    expect(await h.stepStatuses(ws, queued.id)).toEqual(["abandoned", "completed", "completed"]);
  });
});

startHarnessFirst(test);