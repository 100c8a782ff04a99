import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { startDevModel, type RunningDevModel } from "@galaxy/dev-model";
import { closeDevModel, eventually, startHarness, type Harness } from "../../test/support/harness";

/**
 * A stop must fit in the process's shutdown budget: model calls may take minutes, so after
 * the grace period the worker aborts them and hands their executions back to the queue.
 */
let h: Harness;
/** A second model server, without latency, for the instances that take over. */
let spare: RunningDevModel;
const ws = uuidv7();
const GRACE_MS = 300;
/** Far longer than any stop may take; only an aborted call ends sooner. */
const SLOW_MODEL_MS = 20_000;

beforeAll(async () => {
  h = await startHarness(inject("engines"), { shutdownGraceMs: GRACE_MS });
  spare = await startDevModel();
});

afterAll(async () => {
  await h?.devModel.control({ reset: true });
  await h?.close();
  if (spare) await closeDevModel(spare);
});

const onSpareModel = () => ({ openaiBaseUrl: `${spare.url}/v1`, anthropicBaseUrl: spare.url });
const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const eventTypes = (executionId: string) => h.events.of(executionId).map((event) => event.type);

/** Waits until the execution's model call is under way on some instance. */
async function calling(executionId: string): Promise<void> {
  await h.events.waitFor(executionId, "execution.started");
  await eventually(async () => ((await h.stepStatuses(ws, executionId)).includes("running") ? true : null));
}

describe("stopping a worker with executions running", () => {
  test("after the grace period the model call is aborted and the execution goes back to the queue, uncounted; another instance completes it once", async () => {
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

  test("the stopping instance wakes the others: a running instance takes the execution at once, not after a poll or a lease", async () => {
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
