import { ExecutionError, ExecutionOutput, ExecutionTrigger, type Execution, type ExecutionStatus, type Usage, uuidv7 } from "@galaxy/contracts";
import { readInWorkspace, sql, type CompiledQuery, type Kysely, type Selectable, type Transaction } from "@galaxy/db";
import type { ExecutionDb, ExecutionsTable, StepStatus } from "../db";
import { addUsage } from "../quota/quota.repository";
import { concurrencyByTier } from "../quota/tiers";
import type { BegunRun } from "./run";

type Db = Kysely<ExecutionDb> | Transaction<ExecutionDb>;

export type ExecutionRow = Selectable<ExecutionsTable>;

/** The columns `toExecution` reads: what the API answers of an execution. */
const API_COLUMNS = ["id", "workspace_id", "agent_id", "agent_version", "status", "trigger", "input", "output", "error", "input_tokens", "output_tokens", "total_tokens", "cost_usd", "duration_ms", "created_at", "started_at", "completed_at"] as const;
export type ExecutionApiRow = Pick<ExecutionRow, (typeof API_COLUMNS)[number]>;

/** An execution a scheduler has leased. */
export interface ClaimedExecution {
  id: string;
  workspaceId: string;
  /** Set when the intake took it and began its run in the transaction that created it. */
  begun?: BegunRun | undefined;
}

export interface NewExecution {
  execution: Execution;
  createdBy: string;
  correlationId: string;
  traceparent: string | undefined;
  /** Null when the execution row is written before its `execution.queued` event. */
  queuedEventId: string | null;
}

export async function insertExecution(tx: Transaction<ExecutionDb>, e: NewExecution): Promise<void> {
  const x = e.execution;
  await tx
    .insertInto("executions")
    .values({
      id: x.id,
      workspace_id: x.workspaceId,
      agent_id: x.agentId,
      agent_version: x.agentVersion,
      status: x.status,
      trigger: JSON.stringify(x.trigger),
      input: JSON.stringify(x.input ?? null),
      output: null,
      error: null,
      duration_ms: null,
      created_by: e.createdBy,
      correlation_id: e.correlationId,
      traceparent: e.traceparent ?? null,
      queued_event_id: e.queuedEventId,
      lease_owner: null,
      lease_expires_at: null,
      created_at: new Date(x.createdAt),
      started_at: null,
      completed_at: null,
    })
    .execute();
}

export async function findExecution(db: Db, id: string): Promise<ExecutionRow | undefined> {
  return executionById(db, id).executeTakeFirst();
}

/**
 * What the API answers of an execution, as a read-only workspace transaction of its own, sent
 * with the reads that wait beside it (the read path of `GET /api/executions/{id}`).
 */
export async function findExecutionAlone(db: Kysely<ExecutionDb>, workspaceId: string, id: string): Promise<ExecutionApiRow | undefined> {
  const [row] = await readInWorkspace(db, workspaceId, executionForApiById(db, id));
  return row;
}

let executionForApi: CompiledQuery<ExecutionApiRow> | undefined;

/**
 * Compiled once, its id given each time: Kysely takes about 30 µs to compile this select, more
 * than the rest of the worker's part of a read. Only its `sql` and `parameters` are used
 * (`readInWorkspace`); its operation node keeps the id it was first compiled with.
 */
function executionForApiById(db: Kysely<ExecutionDb>, id: string): CompiledQuery<ExecutionApiRow> {
  executionForApi ??= db.selectFrom("executions").select(API_COLUMNS).where("id", "=", id).compile();
  return { ...executionForApi, parameters: [id] };
}

function executionById(db: Db, id: string) {
  return db.selectFrom("executions").selectAll().where("id", "=", id);
}

/**
 * Whether an execution with this id exists in another workspace than `workspaceId` (the
 * security-definer `execution_exists_elsewhere`). Only asked after a lookup found nothing.
 */
export async function executionExistsElsewhere(db: Kysely<ExecutionDb>, id: string, workspaceId: string): Promise<boolean> {
  const result = await sql<{ found: boolean }>`select execution_exists_elsewhere(${id}::uuid, ${workspaceId}::uuid) as found`.execute(db);
  return result.rows[0]?.found === true;
}

/**
 * Whether the agent projection holds this agent for another workspace than `workspaceId` (the
 * security-definer `agent_exists_elsewhere`). Only asked when it holds none for the caller's.
 */
export async function agentExistsElsewhere(db: Kysely<ExecutionDb>, agentId: string, workspaceId: string): Promise<boolean> {
  const result = await sql<{ found: boolean }>`select agent_exists_elsewhere(${agentId}::uuid, ${workspaceId}::uuid) as found`.execute(db);
  return result.rows[0]?.found === true;
}

/**
 * Leases up to `limit` queued executions of any workspace to `owner` (SECURITY DEFINER:
 * the scheduler does not know their workspaces before it picks them).
 */
export async function claimQueuedExecutions(db: Kysely<ExecutionDb>, owner: string, limit: number, leaseMs: number): Promise<ClaimedExecution[]> {
  const concurrency = JSON.stringify(concurrencyByTier());
  const result = await sql<{ id: string; workspace_id: string }>`select id, workspace_id from claim_queued_executions(${owner}, ${limit}, ${leaseMs}, ${concurrency}::jsonb)`.execute(db);
  return result.rows.map((row) => ({ id: row.id, workspaceId: row.workspace_id }));
}

/** Extends this owner's lease; false when the lease is no longer this owner's. */
export async function renewLease(tx: Transaction<ExecutionDb>, id: string, owner: string, leaseMs: number): Promise<boolean> {
  const result = await tx
    .updateTable("executions")
    .set({ lease_expires_at: sql<Date>`now() + make_interval(secs => ${leaseMs} / 1000.0)` })
    .where("id", "=", id)
    .where("lease_owner", "=", owner)
    .where("status", "=", "running")
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export interface Outcome {
  status: Extract<ExecutionStatus, "completed" | "failed" | "timed_out" | "cancelled">;
  output: ExecutionOutput | null;
  error: ExecutionError | null;
  usage: Usage;
  durationMs: number;
  completedAt: Date;
}

/**
 * Records the end of an execution, only while `owner` still holds its lease (an instance that
 * lost it must not overwrite the result of the one that took over). Undefined when it did not.
 * The tokens it used count toward its workspace's month here, in the same transaction: an
 * execution ends once, so it is counted once.
 */
export async function finishExecution(tx: Transaction<ExecutionDb>, id: string, owner: string, outcome: Outcome): Promise<ExecutionRow | undefined> {
  const row = await tx
    .updateTable("executions")
    .set({
      status: outcome.status,
      output: outcome.output === null ? null : JSON.stringify(outcome.output),
      error: outcome.error === null ? null : JSON.stringify(outcome.error),
      input_tokens: outcome.usage.inputTokens,
      output_tokens: outcome.usage.outputTokens,
      total_tokens: outcome.usage.totalTokens,
      cost_usd: outcome.usage.costUsd,
      duration_ms: outcome.durationMs,
      completed_at: outcome.completedAt,
      lease_owner: null,
      lease_expires_at: null,
    })
    .where("id", "=", id)
    .where("lease_owner", "=", owner)
    .where("status", "=", "running")
    .returningAll()
    .executeTakeFirst();
  if (row) await addUsage(tx, row.workspace_id, outcome.completedAt, outcome.usage.totalTokens);
  return row;
}

/** Locks the execution's row for the rest of the transaction (a cancel against a claim). */
export async function findExecutionForUpdate(tx: Transaction<ExecutionDb>, id: string): Promise<ExecutionRow | undefined> {
  return tx.selectFrom("executions").selectAll().where("id", "=", id).forUpdate().executeTakeFirst();
}

/** Ends a queued execution `cancelled`; undefined when it was no longer queued. */
export async function cancelQueued(tx: Transaction<ExecutionDb>, id: string, at: Date): Promise<ExecutionRow | undefined> {
  return tx
    .updateTable("executions")
    .set({ status: "cancelled", completed_at: at, duration_ms: 0, error: JSON.stringify({ code: "cancelled", message: "Cancelled before it started" }) })
    .where("id", "=", id)
    .where("status", "=", "queued")
    .returningAll()
    .executeTakeFirst();
}

/** Marks a running execution to be cancelled (kept, so an instance taking it over sees it too). */
export async function requestCancel(tx: Transaction<ExecutionDb>, id: string, at: Date): Promise<void> {
  await tx.updateTable("executions").set({ cancel_requested_at: at }).where("id", "=", id).where("status", "=", "running").where("cancel_requested_at", "is", null).execute();
}

/**
 * Opens a step; with `closeAbandoned`, steps an earlier attempt left running (its instance
 * died) are closed as abandoned first.
 */
export async function openStep(
  tx: Transaction<ExecutionDb>,
  step: { workspaceId: string; executionId: string; name: string; startedAt: Date; detail: unknown; closeAbandoned: boolean },
): Promise<string> {
  if (step.closeAbandoned) {
    await tx.updateTable("execution_steps").set({ status: "abandoned" }).where("execution_id", "=", step.executionId).where("status", "=", "running").execute();
  }
  const id = uuidv7();
  await tx
    .insertInto("execution_steps")
    .values({
      id,
      workspace_id: step.workspaceId,
      execution_id: step.executionId,
      name: step.name,
      status: "running",
      started_at: step.startedAt,
      completed_at: null,
      duration_ms: null,
      detail: JSON.stringify(step.detail),
    })
    .execute();
  return id;
}

export async function listSteps(db: Db, executionId: string) {
  return db.selectFrom("execution_steps").selectAll().where("execution_id", "=", executionId).orderBy("started_at").orderBy("id").execute();
}

const StoredOutput = ExecutionOutput.nullable();
const StoredError = ExecutionError.nullable();

/** The contract's view of a stored execution. */
export function toExecution(row: ExecutionApiRow): Execution {
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    agentId: row.agent_id,
    agentVersion: row.agent_version,
    status: row.status,
    trigger: ExecutionTrigger.parse(row.trigger),
    input: row.input ?? null,
    output: StoredOutput.parse(row.output ?? null),
    error: StoredError.parse(row.error ?? null),
    usage: { inputTokens: row.input_tokens, outputTokens: row.output_tokens, totalTokens: row.total_tokens, costUsd: Number(row.cost_usd) },
    durationMs: row.duration_ms,
    createdAt: row.created_at.toISOString(),
    startedAt: row.started_at?.toISOString() ?? null,
    completedAt: row.completed_at?.toISOString() ?? null,
  };
}
