import { sql, type Kysely } from "kysely";
import { createWorkspaceFunction } from "@galaxy/db";
import { up as runWritesAsBefore } from "./2026_12_06_05_40_00_run_writes_keep_their_plans";

/**
 * A run's end may carry its start and schedule its completion callback.
 * - A run that ends within a moment of its claim writes its start and its end in one call of
 *   `write_run` (docs/decisions/0030), so the end sets `started_at` too when it is not set yet
 *   (`p_started_at`, which only the start used before).
 * - The end schedules the first attempt of its completion callback (`p_notify`, when the agent
 *   version has a `notifyUrl`), with the terminal event as stored (docs/decisions/0031).
 * - The month's usage is counted last, so the row every end of a workspace updates stays locked
 *   only until the commit rather than while the events and steps are written.
 * Everything else is as migration `2026_12_06_05_40_00` wrote it. Its `write_run`, without
 * `p_notify`, stays for the previous release's instances while a deployment rolls
 * (docs/operations.md, "Upgrades and migrations"); a later release drops it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await createWorkspaceFunction(db, "execution-worker", {
    name: "write_run",
    args: `p_execution uuid, p_owner text, p_change text, p_started_at timestamptz, p_end jsonb, p_events jsonb, p_steps jsonb,
           p_abandon_running boolean, p_usage_month date, p_usage_tokens bigint, p_notify jsonb`,
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
                 started_at = coalesce(started_at, p_started_at),
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
      perform record_run(v_workspace, p_execution, v_base, p_events, p_steps);
      if p_notify is not null then
        insert into callback_deliveries (id, workspace_id, execution_id, event_id, event_type, agent_id, agent_version, attempt, url, status, payload, next_attempt_at, give_up_at, traceparent)
        select (p_notify ->> 'id')::uuid, v_workspace, p_execution, v.event_id, v.type, e.agent_id, e.agent_version, 1, p_notify ->> 'url', 'pending', v.payload, now(),
               (p_notify ->> 'giveUpAt')::timestamptz, p_notify ->> 'traceparent'
          from execution_events v join executions e on e.id = v.execution_id
         where v.execution_id = p_execution and v.event_id = (p_notify ->> 'eventId')::uuid
        on conflict (event_id, attempt) do nothing;
        if not found then
          raise exception 'the callback of execution % names event %, which is not among its events', p_execution, p_notify ->> 'eventId';
        end if;
      end if;
      -- Last: every end of the workspace's runs waits for this row's lock until the commit.
      if p_usage_month is not null then
        insert into workspace_usage (workspace_id, month, tokens, executions) values (v_workspace, p_usage_month, p_usage_tokens, 1)
        on conflict (workspace_id, month) do update set tokens = workspace_usage.tokens + excluded.tokens, executions = workspace_usage.executions + 1;
      end if;
      return v_base;
    end`,
  });
}

/** The end without the start or the callback, as before. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function execution.write_run(uuid, text, text, timestamptz, jsonb, jsonb, jsonb, boolean, date, bigint, jsonb)`.execute(db);
  await runWritesAsBefore(db);
}
