import { sql, type CompiledQuery, type Transaction } from "@galaxy/db";
import type { ExecutionDb } from "../db";
import type { StartOrder } from "./intake";
import type { StartPlan } from "./start-plan";

/** An admitted start of a batch, ready to write. */
export interface PlannedStart {
  order: StartOrder;
  version: number;
  plan: StartPlan;
}

/** A statement of `startsWrite`, and what its rows say was written. */
export interface StartsWrite {
  query: CompiledQuery<{ id: string }>;
  written(rows: ReadonlyArray<{ id: string }>): PlannedStart[];
}

/** What `write_starts` takes for `starts`: the rows, their events and first steps, as JSON, and the time they were created. */
export interface StartsArguments {
  rows: string;
  events: string;
  steps: string;
  createdAt: string;
}

/**
 * The one statement writing the new executions of one workspace (`write_starts`, a PL/pgSQL
 * function that keeps its plan: docs/decisions/0026), for the caller's transaction
 * whose workspace setting is `workspaceId` (undefined when there are none): the rows (`queued`,
 * or `running` and leased to `owner` when taken at once), their events in the outbox and
 * `execution_events`, and the first step of those taken. An id that exists already (another
 * copy of the delivery won the race) writes nothing, neither row nor events; `written` answers
 * the starts its rows say were written.
 */
export function startsWrite(tx: Transaction<ExecutionDb>, workspaceId: string, starts: readonly PlannedStart[], lease: { owner: string; leaseMs: number }): StartsWrite | undefined {
  if (starts.length === 0) return undefined;
  const { rows, events, steps, createdAt } = startsArguments(starts);
  const query = sql<{ id: string }>`
    select id from write_starts(${workspaceId}, ${lease.owner}, ${lease.leaseMs}, ${createdAt}::timestamptz, ${rows}::jsonb, ${events}::jsonb, ${steps}::jsonb)`.compile(tx);
  return {
    query,
    written: (rows) => {
      const ids = new Set(rows.map((row) => row.id));
      return starts.filter((start) => ids.has(start.plan.queued.id));
    },
  };
}

/** `write_starts`'s arguments for `starts` (at least one). */
export function startsArguments(starts: readonly PlannedStart[]): StartsArguments {
  const rows = starts.map(({ order, version, plan }, n) => ({
    n,
    id: plan.queued.id,
    agent_id: order.agentId,
    agent_version: version,
    taken: plan.begun !== null,
    trigger: order.trigger,
    input: order.input ?? null,
    created_by: order.actor.id,
    correlation_id: order.context.correlationId,
    traceparent: order.context.traceparent,
    queued_event_id: plan.queuedEventId,
    last_event_seq: plan.events.length,
  }));
  const events = starts.flatMap(({ plan }) => plan.events.map((event) => ({ event, executionId: plan.queued.id }))).map(({ event, executionId }, n) => ({
    n,
    id: event.id,
    execution_id: executionId,
    seq: (event.payload.data as { seq: number }).seq,
    type: event.type,
    schema_version: event.schemaVersion,
    payload: event.payload,
    context: event.context,
  }));
  const steps = starts.flatMap(({ plan }) => {
    const step = plan.begun?.firstStep;
    return step ? [{ id: step.id, execution_id: plan.queued.id, name: step.name, status: step.status, started_at: step.startedAt.toISOString(), detail: step.detail }] : [];
  });
  const createdAt = starts[0]?.plan.queued.createdAt ?? new Date().toISOString();
  return { rows: JSON.stringify(rows), events: JSON.stringify(events), steps: JSON.stringify(steps), createdAt };
}
