import { sql, type Kysely } from "kysely";
import { createWorkspaceFunction } from "@galaxy/db";

/**
 * A lone delivery to a workspace the worker has seen before is started in one round trip
 * (docs/decisions/0033): the worker plans the start from what it read of the workspace last
 * time, and `write_foreseen_start` reads the facts again (`intake_facts`) and writes the planned
 * start (`write_starts`: one execution of `p_agent` at `p_version`, taken at once) only if those
 * facts still allow exactly that plan: the same tier, the month's tokens under the tier's
 * budget, nothing queued, room under the tier's concurrency, the id new, the agent active at
 * the planned version with its config. Either way it answers the facts it read; a worker whose
 * plan no longer held keeps them for its next plan, and reads again for this one.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await createWorkspaceFunction(db, "execution-worker", {
    name: "write_foreseen_start",
    args: `p_workspace uuid, p_month date, p_owner text, p_lease_ms int, p_created_at timestamptz, p_rows jsonb, p_events jsonb, p_steps jsonb,
           p_agent uuid, p_version int, p_tier text, p_token_budget bigint, p_concurrency int`,
    returns: "table (tier text, tokens bigint, queued int, running int, existing jsonb, agents jsonb, written uuid[])",
    body: `#variable_conflict use_column
    declare
      f record;
      v_written uuid[] := '{}';
    begin
      select * into f from intake_facts(p_workspace, p_month, array[(p_rows -> 0 ->> 'id')::uuid], array[p_agent]);
      if jsonb_array_length(p_rows) = 1
         and (p_rows -> 0 ->> 'agent_id')::uuid = p_agent
         and (p_rows -> 0 ->> 'agent_version')::int = p_version
         and (p_rows -> 0 ->> 'taken')::boolean
         and f.tier is not distinct from p_tier
         and coalesce(f.tokens, 0) < p_token_budget
         and f.queued = 0
         and f.running < p_concurrency
         and jsonb_array_length(f.existing) = 0
         and exists (select 1 from jsonb_array_elements(f.agents) a
                      where (a ->> 'current_version')::int = p_version and a ->> 'status' = 'active' and not (a ->> 'deleted')::boolean
                        and jsonb_typeof(a -> 'config') = 'object')
      then
        select coalesce(array_agg(s.id), '{}') into v_written
          from write_starts(p_workspace, p_owner, p_lease_ms, p_created_at, p_rows, p_events, p_steps) s;
      end if;
      return query select f.tier, f.tokens, f.queued, f.running, f.existing, f.agents, v_written;
    end`,
  });
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function if exists execution.write_foreseen_start(uuid, date, text, int, timestamptz, jsonb, jsonb, jsonb, uuid, int, text, bigint, int)`.execute(db);
}
