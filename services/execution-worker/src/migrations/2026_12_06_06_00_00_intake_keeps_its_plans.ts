import { sql, type Kysely } from "kysely";
import { createWorkspaceFunction } from "@galaxy/db";

/**
 * The batch intake keeps its plans (docs/decisions/0026), as a run's writes do: its read of a
 * workspace's facts and its write of the new executions were statements of five and six parts
 * that Postgres planned at every batch, and a lone delivery is a batch of its own, so that
 * planning sat on the path from a webhook to its execution. Both are PL/pgSQL functions now,
 * running as their caller under row-level security; what they read and write is unchanged.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // What one workspace's group of a batch reads before it writes.
  await createWorkspaceFunction(db, "execution-worker", {
    name: "intake_facts",
    args: "p_workspace uuid, p_month date, p_ids uuid[], p_agents uuid[]",
    returns: "table (tier text, tokens bigint, queued int, running int, existing jsonb, agents jsonb)",
    body: `#variable_conflict use_column
    begin
      return query
      select (select t.tier from workspace_tiers t where t.workspace_id = p_workspace),
             (select u.tokens from workspace_usage u where u.workspace_id = p_workspace and u.month = p_month)::bigint,
             (select count(*) from executions e where e.workspace_id = p_workspace and e.status = 'queued')::int,
             (select count(*) from executions e where e.workspace_id = p_workspace and e.status = 'running')::int,
             (select coalesce(jsonb_agg(e.id), '[]') from executions e where e.id = any(p_ids)),
             (select coalesce(jsonb_agg(jsonb_build_object('agent_id', a.agent_id, 'status', a.status, 'deleted', a.deleted, 'current_version', a.current_version, 'config', v.config)), '[]')
                from agents a left join agent_versions v on v.agent_id = a.agent_id and v.version = a.current_version
               where a.agent_id = any(p_agents));
    end`,
  });

  // The new executions of one workspace (queued, or running and leased to p_owner when taken at
  // once), their events and the first step of those taken; an id that exists already writes
  // nothing. Answers the ids written.
  await createWorkspaceFunction(db, "execution-worker", {
    name: "write_starts",
    args: "p_workspace uuid, p_owner text, p_lease_ms int, p_created_at timestamptz, p_rows jsonb, p_events jsonb, p_steps jsonb",
    returns: "table (id uuid)",
    body: `#variable_conflict use_column
    begin
      return query
      with input as (
        select * from jsonb_to_recordset(p_rows)
          as r(n int, id uuid, agent_id uuid, agent_version int, taken boolean, trigger jsonb, input jsonb, created_by text, correlation_id text, traceparent text, queued_event_id uuid, last_event_seq int)
      ), run as (
        insert into executions (id, workspace_id, agent_id, agent_version, status, trigger, input, created_by, correlation_id, traceparent,
                                queued_event_id, attempt, lease_owner, lease_expires_at, last_event_seq, created_at, started_at)
        select i.id, p_workspace, i.agent_id, i.agent_version, case when i.taken then 'running' else 'queued' end, i.trigger, i.input, i.created_by, i.correlation_id, i.traceparent,
               i.queued_event_id, case when i.taken then 1 else 0 end, case when i.taken then p_owner end,
               case when i.taken then now() + make_interval(secs => p_lease_ms / 1000.0) end, i.last_event_seq, p_created_at,
               case when i.taken then p_created_at end
          from input i order by i.n
        on conflict (id) do nothing
        returning executions.id
      ), events as (
        select e.* from jsonb_to_recordset(p_events)
          as e(n int, id uuid, execution_id uuid, seq int, type text, schema_version int, payload jsonb, context jsonb)
         where e.execution_id in (select run.id from run)
      ), outboxed as (
        insert into outbox (id, workspace_id, type, schema_version, payload, context)
        select e.id, p_workspace, e.type, e.schema_version, e.payload, e.context from events e order by e.n
      ), logged as (
        insert into execution_events (workspace_id, execution_id, seq, event_id, type, payload, occurred_at)
        select p_workspace, e.execution_id, e.seq, e.id, e.type, e.payload, (e.payload ->> 'occurredAt')::timestamptz from events e
      ), steps as (
        insert into execution_steps (id, workspace_id, execution_id, name, status, started_at, detail)
        select s.id, p_workspace, s.execution_id, s.name, s.status, s.started_at, s.detail
          from jsonb_to_recordset(p_steps) as s(id uuid, execution_id uuid, name text, status text, started_at timestamptz, detail jsonb)
         where s.execution_id in (select run.id from run)
      )
      select run.id from run;
    end`,
  });
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function if exists execution.write_starts(uuid, text, int, timestamptz, jsonb, jsonb, jsonb)`.execute(db);
  await sql`drop function if exists execution.intake_facts(uuid, date, uuid[], uuid[])`.execute(db);
}
