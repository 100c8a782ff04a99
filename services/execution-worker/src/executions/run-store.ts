import type { StepName } from "@galaxy/contracts";
import { atCommit, inWorkspaceAtOnce, sql, type CommitStatement, type Kysely, type OutboxRow, type RawBuilder, type Transaction } from "@galaxy/db";
import type { ExecutionDb, StepStatus } from "../db";

/** A step of a run as the run keeps it in memory until it writes it. */
export interface StepRecord {
  id: string;
  name: StepName;
  status: StepStatus;
  startedAt: Date;
  completedAt: Date | null;
  durationMs: number | null;
  detail: Record<string, unknown>;
}

/** What a run writes in one statement: the change to its row, its events, its steps and the month's usage. */
export interface RunWrite {
  executionId: string;
  /** Only while this instance holds the lease. */
  owner: string;
  /** The columns the write sets on the execution's row (its event counter is advanced here). */
  set: RawBuilder<unknown>;
  /** In order; their `seq` is taken from the execution's counter by the statement. */
  events: readonly OutboxRow[];
  /** Inserted, or updated when a row of the same id was written before (the step open since the start). */
  steps: readonly StepRecord[];
  /** Steps an earlier attempt left `running` (its instance died) are closed as `abandoned`. */
  abandonRunning?: boolean | undefined;
  /** Tokens the execution used, added to its workspace's month: only in the write that records its end, which succeeds once. */
  usage?: { month: string; tokens: number } | undefined;
}

/**
 * Applies a run's write in one statement, while `owner` holds the lease, as a workspace
 * transaction of its own in one round trip (`begin`, the workspace, the statement and `commit`
 * in one message: `inWorkspaceAtOnce`): the events as written (with their seq, to publish after
 * the commit), or null when the lease was no longer ours and nothing was written. Every part
 * hangs on the update of the execution's row, so a lost lease writes no step, no event and no
 * usage. The run's end and a hand-back write so.
 */
export async function writeRunAlone(db: Kysely<ExecutionDb>, workspaceId: string, write: RunWrite): Promise<OutboxRow[] | null> {
  return writtenEvents(write, await inWorkspaceAtOnce(db, workspaceId, runWriteStatement(write).compile(db)));
}

/**
 * A run's write as the last statement of its transaction, sent with the commit (`atCommit`);
 * `answer` makes the transaction's answer of the events written (null: the lease was lost).
 */
export function writeRunAtCommit<T>(tx: Transaction<ExecutionDb>, write: RunWrite, answer: (written: OutboxRow[] | null) => T): CommitStatement<T> {
  return atCommit(runWriteStatement(write).compile(tx), (rows) => answer(writtenEvents(write, rows)));
}

function writtenEvents(write: RunWrite, rows: ReadonlyArray<{ base: number }>): OutboxRow[] | null {
  const base = rows[0]?.base;
  return base === undefined ? null : numbered(write.events, base);
}

/** The one statement of a run's write. */
function runWriteStatement(write: RunWrite): RawBuilder<{ base: number }> {
  const n = write.events.length;
  return sql<{ base: number }>`
    with run as (
      update executions set ${write.set}, last_event_seq = last_event_seq + ${n}::int
       where id = ${write.executionId} and lease_owner = ${write.owner} and status = 'running'
       returning workspace_id, last_event_seq - ${n}::int as base
    ), abandoned as (
      update execution_steps set status = 'abandoned'
       where ${write.abandonRunning === true} and execution_id = ${write.executionId} and status = 'running' and exists (select 1 from run)
         and not (id = any(${write.steps.map((step) => step.id)}::uuid[]))
    ), usage as (
      insert into workspace_usage (workspace_id, month, tokens, executions)
      select run.workspace_id, ${write.usage?.month ?? null}::date, ${write.usage?.tokens ?? 0}::bigint, 1 from run where ${write.usage !== undefined}
      on conflict (workspace_id, month) do update set tokens = workspace_usage.tokens + excluded.tokens, executions = workspace_usage.executions + 1
    ), ${recordsOf(write.executionId, write.events, write.steps)}
    select base from run`;
}

/**
 * The inserts of a run's events (outbox and `execution_events`, one row each, numbered from the
 * `base` of the statement's `run`) and of its steps, as the tail of a `with` whose `run` gives
 * `workspace_id` and `base`: nothing is written when `run` is empty.
 */
export function recordsOf(executionId: string, events: readonly OutboxRow[], steps: readonly StepRecord[]): RawBuilder<unknown> {
  const eventsJson = JSON.stringify(events.map((e) => ({ id: e.id, workspaceId: e.workspaceId, type: e.type, schemaVersion: e.schemaVersion, payload: e.payload, context: e.context })));
  const stepsJson = JSON.stringify(
    steps.map((s) => ({ id: s.id, name: s.name, status: s.status, started_at: s.startedAt.toISOString(), completed_at: s.completedAt?.toISOString() ?? null, duration_ms: s.durationMs, detail: s.detail })),
  );
  return sql`steps as (
      insert into execution_steps (id, workspace_id, execution_id, name, status, started_at, completed_at, duration_ms, detail)
      select s.id, run.workspace_id, ${executionId}::uuid, s.name, s.status, s.started_at, s.completed_at, s.duration_ms, s.detail
        from run, jsonb_to_recordset(${stepsJson}::jsonb) as s(id uuid, name text, status text, started_at timestamptz, completed_at timestamptz, duration_ms int, detail jsonb)
      on conflict (id) do update set status = excluded.status, completed_at = excluded.completed_at, duration_ms = excluded.duration_ms, detail = excluded.detail
    ), events as (
      select (run.base + e.n)::int as seq, jsonb_set(e.ev -> 'payload', '{data,seq}', to_jsonb((run.base + e.n)::int)) as payload, e.ev
        from run, jsonb_array_elements(${eventsJson}::jsonb) with ordinality as e(ev, n)
    ), outboxed as (
      insert into outbox (id, workspace_id, type, schema_version, payload, context)
      select (ev ->> 'id')::uuid, (ev ->> 'workspaceId')::uuid, ev ->> 'type', (ev ->> 'schemaVersion')::int, payload, ev -> 'context' from events order by seq
    ), logged as (
      insert into execution_events (workspace_id, execution_id, seq, event_id, type, payload, occurred_at)
      select (ev ->> 'workspaceId')::uuid, ${executionId}::uuid, seq, (ev ->> 'id')::uuid, ev ->> 'type', payload, (payload ->> 'occurredAt')::timestamptz from events
    )`;
}

/** The events as the statement wrote them: numbered from `base + 1`. */
export function numbered(events: readonly OutboxRow[], base: number): OutboxRow[] {
  return events.map((event, index) => {
    const { data } = event.payload;
    const seq = base + index + 1;
    return { ...event, payload: { ...event.payload, data: typeof data === "object" && data !== null ? { ...data, seq } : data } };
  });
}
