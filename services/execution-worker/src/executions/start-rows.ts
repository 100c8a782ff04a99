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

/**
 * The one statement writing the new executions of one workspace, for the caller's transaction
 * whose workspace setting is `workspaceId` (undefined when there are none): the rows (`queued`,
 * or `running` and leased to `owner` when taken at once), their events in the outbox and
 * `execution_events`, and the first step of those taken. An id that exists already (another
 * copy of the delivery won the race) writes nothing, neither row nor events; `written` answers
 * the starts its rows say were written.
 */
export function startsWrite(tx: Transaction<ExecutionDb>, workspaceId: string, starts: readonly PlannedStart[], lease: { owner: string; leaseMs: number }): StartsWrite | undefined {
  if (starts.length === 0) return undefined;
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
  const query = sql<{ id: string }>`
    with input as (
      select * from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
        as r(n int, id uuid, agent_id uuid, agent_version int, taken boolean, trigger jsonb, input jsonb, created_by text, correlation_id text, traceparent text, queued_event_id uuid, last_event_seq int)
    ), run as (
      insert into executions (id, workspace_id, agent_id, agent_version, status, trigger, input, created_by, correlation_id, traceparent,
                              queued_event_id, attempt, lease_owner, lease_expires_at, last_event_seq, created_at, started_at)
      select id, ${workspaceId}::uuid, agent_id, agent_version, case when taken then 'running' else 'queued' end, trigger, input, created_by, correlation_id, traceparent,
             queued_event_id, case when taken then 1 else 0 end, case when taken then ${lease.owner} end,
             case when taken then now() + make_interval(secs => ${lease.leaseMs} / 1000.0) end, last_event_seq, ${createdAt}::timestamptz,
             case when taken then ${createdAt}::timestamptz end
        from input order by n
      on conflict (id) do nothing
      returning id
    ), events as (
      select e.* from jsonb_to_recordset(${JSON.stringify(events)}::jsonb)
        as e(n int, id uuid, execution_id uuid, seq int, type text, schema_version int, payload jsonb, context jsonb)
       where e.execution_id in (select id from run)
    ), outboxed as (
      insert into outbox (id, workspace_id, type, schema_version, payload, context)
      select id, ${workspaceId}::uuid, type, schema_version, payload, context from events order by n
    ), logged as (
      insert into execution_events (workspace_id, execution_id, seq, event_id, type, payload, occurred_at)
      select ${workspaceId}::uuid, execution_id, seq, id, type, payload, (payload ->> 'occurredAt')::timestamptz from events
    ), steps as (
      insert into execution_steps (id, workspace_id, execution_id, name, status, started_at, detail)
      select s.id, ${workspaceId}::uuid, s.execution_id, s.name, s.status, s.started_at, s.detail
        from jsonb_to_recordset(${JSON.stringify(steps)}::jsonb) as s(id uuid, execution_id uuid, name text, status text, started_at timestamptz, detail jsonb)
       where s.execution_id in (select id from run)
    )
    select id::text from run`.compile(tx);
  return {
    query,
    written: (rows) => {
      const ids = new Set(rows.map((row) => row.id));
      return starts.filter((start) => ids.has(start.plan.queued.id));
    },
  };
}
