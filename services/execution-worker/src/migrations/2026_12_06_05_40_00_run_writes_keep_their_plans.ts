import { sql, type Kysely } from "kysely";
import { createWorkspaceFunction } from "@galaxy/db";

/**
 * A run's writes keep their plans (docs/decisions/0026). The start, the end and the hand-back
 * of a run were each one statement of six common table expressions with the run's events and
 * steps written into its text, so Postgres parsed and planned about 7 KB of SQL three times per
 * execution. As PL/pgSQL functions (row-level security applies: they run as the caller) the
 * statements are prepared once per session and their plans kept; the events and steps arrive
 * as JSON arguments. What is written, under which lease, is unchanged.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // A run's events (outbox and `execution_events`, numbered from p_base + 1) and steps
  // (inserted, or updated when the attempt's open step was written before).
  await createWorkspaceFunction(db, "execution-worker", {
    name: "record_run",
    args: "p_workspace uuid, p_execution uuid, p_base int, p_events jsonb, p_steps jsonb",
    returns: "void",
    body: `begin
      insert into execution_steps (id, workspace_id, execution_id, name, status, started_at, completed_at, duration_ms, detail)
      select s.id, p_workspace, p_execution, s.name, s.status, s.started_at, s.completed_at, s.duration_ms, s.detail
        from jsonb_to_recordset(p_steps) as s(id uuid, name text, status text, started_at timestamptz, completed_at timestamptz, duration_ms int, detail jsonb)
      on conflict (id) do update set status = excluded.status, completed_at = excluded.completed_at, duration_ms = excluded.duration_ms, detail = excluded.detail;

      with events as (
        select (p_base + e.n)::int as seq, jsonb_set(e.ev -> 'payload', '{data,seq}', to_jsonb((p_base + e.n)::int)) as payload, e.ev
          from jsonb_array_elements(p_events) with ordinality as e(ev, n)
      ), outboxed as (
        insert into outbox (id, workspace_id, type, schema_version, payload, context)
        select (ev ->> 'id')::uuid, (ev ->> 'workspaceId')::uuid, ev ->> 'type', (ev ->> 'schemaVersion')::int, payload, ev -> 'context' from events order by seq
      )
      insert into execution_events (workspace_id, execution_id, seq, event_id, type, payload, occurred_at)
      select (ev ->> 'workspaceId')::uuid, p_execution, seq, (ev ->> 'id')::uuid, ev ->> 'type', payload, (payload ->> 'occurredAt')::timestamptz from events;
    end`,
  });

  // One write of a leased run: its start, its end or its hand-back to the queue, only while
  // p_owner holds the lease. Everything hangs on the update of the execution's row: a lost lease
  // writes no step, no event and no usage, and answers null. Otherwise the answer is the seq
  // before the first of p_events. Each change's update carries the same guard (the row running,
  // leased to p_owner) and the same counter: change them together.
  await createWorkspaceFunction(db, "execution-worker", {
    name: "write_run",
    args: `p_execution uuid, p_owner text, p_change text, p_started_at timestamptz, p_end jsonb, p_events jsonb, p_steps jsonb,
           p_abandon_running boolean, p_usage_month date, p_usage_tokens bigint`,
    returns: "int",
    body: `declare
      v_count int := jsonb_array_length(p_events);
      v_workspace uuid;
      v_base int;
    begin
      case p_change
        when 'start' then
          update executions set started_at = coalesce(started_at, p_started_at), last_event_seq = last_event_seq + v_count
           where id = p_execution and lease_owner = p_owner and status = 'running'
           returning workspace_id, last_event_seq - v_count into v_workspace, v_base;
        when 'end' then
          update executions
             set status = p_end ->> 'status', output = nullif(p_end -> 'output', 'null'), error = nullif(p_end -> 'error', 'null'),
                 input_tokens = (p_end ->> 'inputTokens')::int, output_tokens = (p_end ->> 'outputTokens')::int,
                 total_tokens = (p_end ->> 'totalTokens')::int, cost_usd = (p_end ->> 'costUsd')::numeric,
                 duration_ms = (p_end ->> 'durationMs')::int, completed_at = (p_end ->> 'completedAt')::timestamptz,
                 lease_owner = null, lease_expires_at = null, last_event_seq = last_event_seq + v_count
           where id = p_execution and lease_owner = p_owner and status = 'running'
           returning workspace_id, last_event_seq - v_count into v_workspace, v_base;
        when 'hand_back' then
          update executions
             set status = 'queued', lease_owner = null, lease_expires_at = null, attempt = greatest(attempt - 1, 0), last_event_seq = last_event_seq + v_count
           where id = p_execution and lease_owner = p_owner and status = 'running'
           returning workspace_id, last_event_seq - v_count into v_workspace, v_base;
      end case;
      if v_workspace is null then
        return null;
      end if;
      if p_abandon_running then
        update execution_steps set status = 'abandoned'
         where execution_id = p_execution and status = 'running'
           and not (id = any (array(select (s ->> 'id')::uuid from jsonb_array_elements(p_steps) as s)));
      end if;
      if p_usage_month is not null then
        insert into workspace_usage (workspace_id, month, tokens, executions) values (v_workspace, p_usage_month, p_usage_tokens, 1)
        on conflict (workspace_id, month) do update set tokens = workspace_usage.tokens + excluded.tokens, executions = workspace_usage.executions + 1;
      end if;
      perform record_run(v_workspace, p_execution, v_base, p_events, p_steps);
      return v_base;
    end`,
  });
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function if exists execution.write_run(uuid, text, text, timestamptz, jsonb, jsonb, jsonb, boolean, date, bigint)`.execute(db);
  await sql`drop function if exists execution.record_run(uuid, uuid, int, jsonb, jsonb)`.execute(db);
}
