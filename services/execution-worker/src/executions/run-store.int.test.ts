import { describe, expect } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { ZERO_USAGE } from "@galaxy/contracts";
import { inWorkspace, sql } from "@galaxy/db";
import { workerTest, startHarnessFirst } from "../../test/support/fixtures";
import { cancelQueued, claimQueuedExecutions, type Outcome } from "./executions.repository";
import { writeRun, type RunChange, type RunWrite } from "./run-store";
import { StepLog } from "./step-log";

/**
 * A run's writes (`write_run`, docs/decisions/0026) apply only while their instance holds the
 * lease of a running execution, and only in the transaction's workspace: anything else writes
 * nothing at all. The PL/pgSQL functions of a delivery's path run as the worker, so row-level
 * security hides other workspaces' rows from each of them. The scheduler claims nothing here
 * (concurrency 0): each test queues and claims an execution of a workspace of its own.
 */
const owner = "run-store-test";
const MONTH = "2026-12-01";

interface Written {
  status: string;
  output: unknown;
  error: unknown;
  tokens: [number, number, number];
  costUsd: string;
  durationMs: number | null;
  completed: boolean;
  leased: boolean;
  attempt: number;
  steps: number;
  events: number;
  outboxed: number;
  usage: number | null;
}

const test = workerTest({ concurrency: 0 })
  .extend("ws", async () => uuidv7())
  .extend("claimed", async ({ h, ws }, { onCleanup }): Promise<string> => {
    const agent = await h.activeAgent(ws);
    const queued = await h.startExecution(ws, agent.id);
    expect(await claimQueuedExecutions(h.db, owner, 1, 30_000)).toEqual([{ id: queued.id, workspaceId: ws }]);
    // One handed back to the queue would be the next test's claim.
    onCleanup(async () => {
      await inWorkspace(h.db, ws, (tx) => cancelQueued(tx, queued.id, new Date()));
    });
    return queued.id;
  })
  .extend("written", async ({ h, ws }) => async (executionId: string): Promise<Written | undefined> =>
    inWorkspace(h.db, ws, async (tx) => {
      const { rows } = await sql<Written>`
        select e.status, e.output, e.error, array[e.input_tokens, e.output_tokens, e.total_tokens] as tokens, e.cost_usd::text as "costUsd",
               e.duration_ms as "durationMs", e.completed_at is not null as completed, e.lease_owner is not null as leased, e.attempt,
               (select count(*) from execution_steps s where s.execution_id = e.id)::int as steps,
               (select count(*) from execution_events v where v.execution_id = e.id)::int as events,
               (select count(*) from outbox o where o.payload -> 'data' ->> 'executionId' = e.id::text)::int as outboxed,
               (select tokens from workspace_usage u where u.workspace_id = e.workspace_id and u.month = ${MONTH}::date)::int as usage
          from executions e where e.id = ${executionId}`.execute(tx);
      return rows[0];
    }),
  )
  /** A write of `change` for the claimed execution, with its one step closed and that step's event. */
  .extend("writeOf", async ({ ws }) => (executionId: string, change: RunChange, by = owner): RunWrite => {
    const at = new Date();
    const log = new StepLog(ws, executionId, () => ({ claim: "", correlationId: executionId, causationId: executionId }), StepLog.open("model_call", {}, at));
    const { steps, events } = log.finish(change.kind === "end" ? "failed" : "completed", {}, at);
    return { executionId, owner: by, change, events, steps, ...(change.kind === "end" ? { usage: { month: MONTH, tokens: change.outcome.usage.totalTokens } } : {}) };
  });

/** A run that failed after using 12 tokens: no output, an error. */
function failed(): Outcome {
  return {
    status: "failed",
    output: null,
    error: { code: "provider_error", message: "the model answered 500" },
    usage: { ...ZERO_USAGE, inputTokens: 5, outputTokens: 7, totalTokens: 12, costUsd: 0.00012 },
    durationMs: 3,
    completedAt: new Date(),
  };
}

describe("a run's write", () => {
  test("its end, by the lease's owner: the row ends and lets the lease go, its steps and events are numbered after the counter, the month counts its tokens", async ({ h, ws, claimed, written, writeOf }) => {
    const before = await written(claimed);
    const numbered = await writeRun(h.db, ws, writeOf(claimed, { kind: "end", outcome: failed() }));
    expect(numbered?.map((event) => (event.payload.data as { seq: number }).seq)).toEqual([(before?.events ?? 0) + 1]);
    expect(await written(claimed)).toEqual({
      status: "failed",
      output: null,
      error: { code: "provider_error", message: "the model answered 500" },
      tokens: [5, 7, 12],
      costUsd: "0.00012000",
      durationMs: 3,
      completed: true,
      leased: false,
      attempt: 1,
      steps: 1,
      events: (before?.events ?? 0) + 1,
      outboxed: (before?.outboxed ?? 0) + 1,
      usage: 12,
    });
  });

  test("its end again, once it ended: null, and nothing more is written", async ({ h, ws, claimed, written, writeOf }) => {
    await writeRun(h.db, ws, writeOf(claimed, { kind: "end", outcome: failed() }));
    const ended = await written(claimed);
    expect(await writeRun(h.db, ws, writeOf(claimed, { kind: "end", outcome: failed() }))).toBeNull();
    expect(await written(claimed)).toEqual(ended);
  });

  test("its start sets started_at the first time only; a hand-back queues it again, the attempt uncounted and the lease let go", async ({ h, ws, claimed, written, writeOf }) => {
    const first = new Date("2026-12-06T05:00:00.000Z");
    await writeRun(h.db, ws, writeOf(claimed, { kind: "start", startedAt: first }));
    await writeRun(h.db, ws, writeOf(claimed, { kind: "start", startedAt: new Date("2026-12-06T06:00:00.000Z") }));
    const started = await inWorkspace(h.db, ws, (tx) => sql<{ started_at: Date }>`select started_at from executions where id = ${claimed}`.execute(tx));
    expect(started.rows[0]?.started_at.toISOString()).toBe(first.toISOString());
    expect(await writeRun(h.db, ws, writeOf(claimed, { kind: "hand_back" }))).not.toBeNull();
    expect(await written(claimed)).toMatchObject({ status: "queued", leased: false, attempt: 0, completed: false, usage: null });
  });

  test("by an instance that does not hold the lease: null, and nothing is written", async ({ h, ws, claimed, written, writeOf }) => {
    const before = await written(claimed);
    expect(await writeRun(h.db, ws, writeOf(claimed, { kind: "end", outcome: failed() }, "another-instance"))).toBeNull();
    expect(await written(claimed)).toEqual(before);
  });
});

describe("in another workspace's transaction, row-level security applies inside the functions", () => {
  test("write_run finds no execution: null, and nothing is written", async ({ h, ws, claimed, written, writeOf }) => {
    const before = await written(claimed);
    expect(await writeRun(h.db, uuidv7(), writeOf(claimed, { kind: "end", outcome: failed() }))).toBeNull();
    expect(await written(claimed)).toEqual(before);
  });

  test("load_run and intake_facts read nothing of it", async ({ h, ws, claimed }) => {
    const agentId = (await h.activeAgent(ws)).id;
    const other = uuidv7();
    const loaded = await inWorkspace(h.db, other, (tx) => sql`select * from load_run(${claimed}, ${MONTH}::date)`.execute(tx));
    expect(loaded.rows).toEqual([]);
    const facts = await inWorkspace(h.db, other, (tx) =>
      sql<{ queued: number; running: number; existing: string[]; agents: unknown[] }>`
        select queued, running, existing, agents from intake_facts(${ws}, ${MONTH}::date, ${[claimed]}::uuid[], ${[agentId]}::uuid[])`.execute(tx),
    );
    expect(facts.rows).toEqual([{ queued: 0, running: 0, existing: [], agents: [] }]);
    const own = await inWorkspace(h.db, ws, (tx) =>
      sql<{ running: number; existing: string[] }>`select running, existing from intake_facts(${ws}, ${MONTH}::date, ${[claimed]}::uuid[], ${[agentId]}::uuid[])`.execute(tx),
    );
    expect(own.rows).toEqual([{ running: 1, existing: [claimed] }]);
  });

  test("write_starts may not write an execution of the workspace it names", async ({ h, ws }) => {
    const agentId = (await h.activeAgent(ws)).id;
    const row = { n: 0, id: uuidv7(), agent_id: agentId, agent_version: 1, taken: false, trigger: { type: "api" }, input: null, created_by: "test", correlation_id: "c", traceparent: null, queued_event_id: uuidv7(), last_event_seq: 0 };
    const writing = inWorkspace(h.db, uuidv7(), (tx) =>
      sql`select id from write_starts(${ws}, ${owner}, ${30_000}, ${new Date()}::timestamptz, ${JSON.stringify([row])}::jsonb, '[]'::jsonb, '[]'::jsonb)`.execute(tx),
    );
    await expect(writing).rejects.toThrow(/row-level security/);
  });

  test("write_foreseen_start sees no agent of the workspace it names, and writes nothing", async ({ h, ws }) => {
    const agentId = (await h.activeAgent(ws)).id;
    const id = uuidv7();
    const row = { n: 0, id, agent_id: agentId, agent_version: 1, taken: true, trigger: { type: "api" }, input: null, created_by: "test", correlation_id: "c", traceparent: null, queued_event_id: uuidv7(), last_event_seq: 0 };
    const answer = await inWorkspace(h.db, uuidv7(), (tx) =>
      sql<{ agents: unknown[]; written: string[] }>`
        select agents, written::text[] as written from write_foreseen_start(${ws}, ${MONTH}::date, ${owner}, ${30_000}, ${new Date()}::timestamptz,
          ${JSON.stringify([row])}::jsonb, '[]'::jsonb, '[]'::jsonb, ${agentId}, 1, null, 1000000, 10)`.execute(tx),
    );
    expect(answer.rows).toEqual([{ agents: [], written: [] }]);
    const seen = await inWorkspace(h.db, ws, (tx) => sql<{ n: number }>`select count(*)::int as n from executions where id = ${id}`.execute(tx));
    expect(seen.rows[0]?.n).toBe(0);
  });
});

startHarnessFirst(test);