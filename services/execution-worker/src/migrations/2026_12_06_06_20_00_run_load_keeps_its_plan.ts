import { sql, type Kysely } from "kysely";
import { createWorkspaceFunction } from "@galaxy/db";

/**
 * The read that begins a claimed run keeps its plan (docs/decisions/0026): the execution's row
 * with its pinned config, its workspace's tier and the month's tokens, a join of four tables
 * that Postgres planned at every run (about a quarter of a millisecond each, five times what
 * running it took). The row comes back whole (`executions`), so a column added to the table
 * needs no change here.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await createWorkspaceFunction(db, "execution-worker", {
    name: "load_run",
    args: "p_execution uuid, p_month date",
    returns: "table (execution executions, config jsonb, tier text, tokens bigint)",
    body: `#variable_conflict use_column
    begin
      return query
      select e, v.config, t.tier, u.tokens::bigint
        from executions e
        left join agent_versions v on v.agent_id = e.agent_id and v.version = e.agent_version
        left join workspace_tiers t on t.workspace_id = e.workspace_id
        left join workspace_usage u on u.workspace_id = e.workspace_id and u.month = p_month
       where e.id = p_execution;
    end`,
  });
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function if exists execution.load_run(uuid, date)`.execute(db);
}
