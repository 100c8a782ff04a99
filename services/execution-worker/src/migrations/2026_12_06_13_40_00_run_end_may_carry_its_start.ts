import type { Kysely } from "kysely";
import { createWorkspaceFunction } from "@galaxy/db";
import { up as runWritesAsBefore } from "./2026_12_06_05_40_00_run_writes_keep_their_plans";

/**
 * A run's end may carry its start (docs/decisions/0030): a run that ends within a moment of its
 * claim writes its start and its end in one call of `write_run`, so the end sets `started_at`
 * too when it is not set yet (`p_started_at`, which only the start used before). The month's
 * usage is now counted last, so the row every end of a workspace updates stays locked only
 * until the commit rather than while the events and steps are written. Everything else is as
 * migration `2026_12_06_05_40_00` wrote it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
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
      -- Last: every end of the workspace's runs waits for this row's lock until the commit.
      if p_usage_month is not null then
        insert into workspace_usage (workspace_id, month, tokens, executions) values (v_workspace, p_usage_month, p_usage_tokens, 1)
        on conflict (workspace_id, month) do update set tokens = workspace_usage.tokens + excluded.tokens, executions = workspace_usage.executions + 1;
      end if;
      return v_base;
    end`,
  });
}

/** The end without the start, as before. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await runWritesAsBefore(db);
}
