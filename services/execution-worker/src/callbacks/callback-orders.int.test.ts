import { describe, expect } from "vitest";
import { v7 as uuidv7 } from "uuid";
import type { EventEnvelope } from "@galaxy/contracts";
import { inWorkspace, sql, type EventContext } from "@galaxy/db";
import { eventually } from "../../test/support/harness";
import { workerTest, startHarnessFirst } from "../../test/support/fixtures";
import { RETIRED_CALLBACK_CONSUMER } from "./callbacks.consumer";

/**
 * An execution's end schedules its completion callback in the transaction that records it
 * (docs/decisions/0031): no consumer hears the terminal event back from the bus. The file's
 * worker claims nothing (concurrency 0), so executions stay queued until a test cancels them
 * or a worker of its own runs them. The notify URL is refused by the worker's outbound policy
 * (nothing is allowed on loopback here), so each callback's first attempt fails at once and
 * nothing is delivered: what is checked is what was scheduled.
 */
interface Scheduled {
  eventType: string;
  eventId: string;
  attempt: number;
  payloadId: string;
  seq: number;
}

const NOTIFY_URL = "http://127.0.0.1:9/done";

const test = workerTest({ concurrency: 0 })
  .extend("ws", async () => uuidv7())
  .extend("scheduled", async ({ h, ws }) => async (executionId: string): Promise<Scheduled[]> =>
    inWorkspace(h.db, ws, async (tx) => {
      const { rows } = await sql<Scheduled>`
        select event_type as "eventType", event_id::text as "eventId", attempt, payload ->> 'id' as "payloadId", (payload -> 'data' ->> 'seq')::int as seq
          from callback_deliveries where execution_id = ${executionId} and attempt = 1`.execute(tx);
      return rows;
    }),
  )
  .extend("terminal", async ({ h, ws }) => async (executionId: string): Promise<{ id: string; seq: number; type: string }> =>
    inWorkspace(h.db, ws, async (tx) => {
      const { rows } = await sql<{ id: string; seq: number; type: string }>`
        select event_id::text as id, seq, type from execution_events where execution_id = ${executionId} order by seq desc limit 1`.execute(tx);
      const [last] = rows;
      if (!last) throw new Error(`no events of execution ${executionId}`);
      return last;
    }),
  )
  /** Runs a queued execution on a worker of the test's own (the file's claims nothing) until it completes. */
  .extend("runToCompletion", async ({ h, ws }, { onCleanup }) => async (executionId: string): Promise<void> => {
    const runner = await h.spawnWorker({ concurrency: 1 });
    onCleanup(() => runner.stop());
    await eventually(async () => ((await h.row(ws, executionId)).status === "completed" ? true : null), 15_000, "the run to complete");
  });
startHarnessFirst(test);

describe("completion callbacks scheduled with the end", () => {
  test("no consumer of execution events exists, and an end schedules its callback: the terminal event as stored, with its seq", async ({ h, ws, scheduled, terminal, runToCompletion }) => {
    expect(await h.bus.consumerExists(RETIRED_CALLBACK_CONSUMER)).toBe(false);
    const agent = await h.activeAgent(ws, { notifyUrl: NOTIFY_URL });
    const queued = await h.startExecution(ws, agent.id, { message: "tell me" });
    await runToCompletion(queued.id);

    const end = await terminal(queued.id);
    expect(end.type).toBe("execution.completed");
    expect(await scheduled(queued.id)).toEqual([{ eventType: "execution.completed", eventId: end.id, attempt: 1, payloadId: end.id, seq: end.seq }]);
    expect(await h.bus.consumerExists(RETIRED_CALLBACK_CONSUMER)).toBe(false);
  });

  test("an agent without a notifyUrl gets no callback", async ({ h, ws, scheduled, runToCompletion }) => {
    const agent = await h.activeAgent(ws);
    const queued = await h.startExecution(ws, agent.id, { message: "quiet" });
    await runToCompletion(queued.id);
    expect(await scheduled(queued.id)).toEqual([]);
  });

  test("a cancel of a queued execution schedules the callback of its execution.cancelled", async ({ h, ws, scheduled, terminal }) => {
    const agent = await h.activeAgent(ws, { notifyUrl: NOTIFY_URL });
    const queued = await h.startExecution(ws, agent.id, { message: "never mind" });
    const claim = await h.claims.sign({ ws, role: "member" });
    const cancelled = await h.caller.request("execution.cancel", { id: queued.id }, { claim, workspaceId: ws });
    expect(cancelled.status).toBe("cancelled");

    const end = await terminal(queued.id);
    expect(end.type).toBe("execution.cancelled");
    expect(await scheduled(queued.id)).toEqual([{ eventType: "execution.cancelled", eventId: end.id, attempt: 1, payloadId: end.id, seq: end.seq }]);
  });

  test("a deployment upgraded from before: the retired consumer, while it exists, schedules the callbacks of ends an instance of the previous release recorded", async ({ h, ws, scheduled, terminal, runToCompletion, onTestFinished }) => {
    const stream = h.bus.stream("EVENTS");
    const config = { durable_name: RETIRED_CALLBACK_CONSUMER, filter_subject: h.bus.subject("evt.*.execution.>"), ack_policy: "explicit", deliver_policy: "new" };
    await h.bus.rawRequest(`$JS.API.CONSUMER.DURABLE.CREATE.${stream}.${RETIRED_CALLBACK_CONSUMER}`, JSON.stringify({ stream_name: stream, config }));
    onTestFinished(async () => {
      await h.bus.rawRequest(`$JS.API.CONSUMER.DELETE.${stream}.${RETIRED_CALLBACK_CONSUMER}`, "");
    });
    const agent = await h.activeAgent(ws, { notifyUrl: NOTIFY_URL });
    const queued = await h.startExecution(ws, agent.id, { message: "both ways" });
    await runToCompletion(queued.id);
    const end = await terminal(queued.id);

    // An end as the previous release published it, with no callback scheduled: the same event under another id.
    const [stored] = await inWorkspace(h.db, ws, async (tx) => {
      const { rows } = await sql<{ type: string; schemaVersion: number; payload: EventEnvelope; context: EventContext }>`
        select type, schema_version as "schemaVersion", payload, context from outbox where id = ${end.id}`.execute(tx);
      return rows;
    });
    if (!stored) throw new Error(`the outbox no longer holds event ${end.id}`);
    const id = uuidv7();
    await h.bus.publishEvent({ id, workspaceId: ws, type: stored.type, schemaVersion: stored.schemaVersion, payload: { ...stored.payload, id }, context: stored.context });

    await eventually(async () => ((await scheduled(queued.id)).some((s) => s.eventId === id) ? true : null), 10_000, "the retired consumer to schedule the republished end's callback");
    expect((await scheduled(queued.id)).map((s) => s.eventId).sort()).toEqual([end.id, id].sort());
  });
});
