import type { StepName } from "@galaxy/contracts";
import { inWorkspaceAtOnce, sql, type Kysely, type OutboxRow, type RawBuilder } from "@galaxy/db";
import type { ExecutionDb, StepStatus } from "../db";
import type { CallbackOrder } from "../callbacks/callback-orders";
import type { Outcome } from "./executions.repository";

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

/** What a run's write changes on its execution's row (`write_run`, docs/decisions/0026). */
export type RunChange =
  /** The attempt begins: `started_at` set the first time only. */
  | { kind: "start"; startedAt: Date }
  /** The run ended: its outcome, and the lease released; `startedAt` when the end carries the attempt's start (`started_at` set the first time only). */
  | { kind: "end"; outcome: Outcome; startedAt?: Date | undefined }
  /** Back to the queue, the attempt uncounted and the lease released. */
  | { kind: "hand_back" };

/** What a run writes in one statement: the change to its row, its events, its steps and the month's usage. */
export interface RunWrite {
  executionId: string;
  /** Only while this instance holds the lease. */
  owner: string;
  change: RunChange;
  /** In order; their `seq` is taken from the execution's counter by the statement. */
  events: readonly OutboxRow[];
  /** Inserted, or updated when a row of the same id was written before (the step open since the start). */
  steps: readonly StepRecord[];
  /** Steps an earlier attempt left `running` (its instance died) are closed as `abandoned`. */
  abandonRunning?: boolean | undefined;
  /** Tokens the execution used, added to its workspace's month: only in the write that records its end, which succeeds once. */
  usage?: { month: string; tokens: number } | undefined;
  /** The completion callback of the end's terminal event (the last of `events`), scheduled with it. */
  notify?: CallbackOrder | null | undefined;
}

/**
 * Applies a run's write in one statement, while `owner` holds the lease, as a workspace
 * transaction of its own in one round trip (`begin`, the workspace, the statement and `commit`
 * in one message: `inWorkspaceAtOnce`): the events as written (with their seq, to publish after
 * the commit), or null when the lease was no longer ours and nothing was written. Every part
 * hangs on the update of the execution's row, so a lost lease writes no step, no event and no
 * usage. Every write of a run goes this way: a start written on its own, an end (which may
 * carry the start), a hand-back.
 */
export async function writeRun(db: Kysely<ExecutionDb>, workspaceId: string, write: RunWrite): Promise<OutboxRow[] | null> {
  return writtenEvents(write, await inWorkspaceAtOnce(db, workspaceId, runWriteStatement(write).compile(db)));
}

function writtenEvents(write: RunWrite, rows: ReadonlyArray<{ base: number | null }>): OutboxRow[] | null {
  const base = rows[0]?.base;
  return base === undefined || base === null ? null : numbered(write.events, base);
}

/** The one statement of a run's write: `write_run`, which keeps its plans for the session (migrations `2026_12_06_05_40_00`, `2026_12_06_13_40_00`). */
function runWriteStatement(write: RunWrite): RawBuilder<{ base: number | null }> {
  const { change } = write;
  const end = change.kind === "end" ? endJson(change.outcome) : null;
  return sql<{ base: number | null }>`
    select write_run(${write.executionId}, ${write.owner}, ${change.kind}, ${startedAtOf(change)}, ${end}::jsonb,
                     ${eventsJson(write.events)}::jsonb, ${stepsJson(write.steps)}::jsonb, ${write.abandonRunning === true},
                     ${write.usage?.month ?? null}::date, ${write.usage?.tokens ?? 0}::bigint, ${write.notify ? JSON.stringify(write.notify) : null}::jsonb) as base`;
}

function startedAtOf(change: RunChange): Date | null {
  if (change.kind === "start") return change.startedAt;
  return change.kind === "end" ? (change.startedAt ?? null) : null;
}

/** The columns an execution's end sets, as `write_run` takes them. */
function endJson({ status, output, error, usage, durationMs, completedAt }: Outcome): string {
  return JSON.stringify({ status, output, error, ...usage, durationMs, completedAt: completedAt.toISOString() });
}

/** A run's events as `record_run` and `write_run` take them. */
export function eventsJson(events: readonly OutboxRow[]): string {
  return JSON.stringify(events.map((e) => ({ id: e.id, workspaceId: e.workspaceId, type: e.type, schemaVersion: e.schemaVersion, payload: e.payload, context: e.context })));
}

/** A run's steps as `record_run` and `write_run` take them. */
export function stepsJson(steps: readonly StepRecord[]): string {
  return JSON.stringify(
    steps.map((s) => ({ id: s.id, name: s.name, status: s.status, started_at: s.startedAt.toISOString(), completed_at: s.completedAt?.toISOString() ?? null, duration_ms: s.durationMs, detail: s.detail })),
  );
}

/** The events as the statement wrote them: numbered from `base + 1`. */
export function numbered(events: readonly OutboxRow[], base: number): OutboxRow[] {
  return events.map((event, index) => {
    const { data } = event.payload;
    const seq = base + index + 1;
    return { ...event, payload: { ...event.payload, data: typeof data === "object" && data !== null ? { ...data, seq } : data } };
  });
}
