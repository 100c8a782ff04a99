import { sql, type Kysely } from "kysely";
import { appendEntriesFunction } from "./2026_12_04_23_00_00_append_entries";
import { RECORDED_BY_ID } from "./2026_12_06_21_00_00_append_entries_probes_ids";

/**
 * The question "which of these ids (`$1`, a JSON array) are entries of workspace `$2` already",
 * asked as `2026_12_06_21_00_00_append_entries_probes_ids` asks it: each id looked up in the
 * primary key, the workspace's condition kept out of the lookup by `offset 0`.
 */
export const RECORDED_QUERY = `select coalesce(jsonb_agg(r.id), '[]'::jsonb)
  from (select l.id, l.workspace_id from audit_logs l
         where l.id in (select value::uuid from jsonb_array_elements_text($1)) offset 0) r
 where r.workspace_id = $2`;

/**
 * The same question, planned at every call. PL/pgSQL keeps a statement's plan for as long as its
 * connection lives, and a plan made while the log was nearly empty read the whole log: a new
 * database's first batches found a table of a few pages and no statistics, the planner chose to
 * scan it, and every later batch of that connection scanned it again, however long it had grown
 * (in a sustained run of 3,000 executions on a new database, 108 batches read 1,045,347 rows of a
 * log of 18,000). Until automatic analyze invalidated the plan, which on a busy new database
 * could be minutes. `execute` plans the query with the table's size as it is now, for about a
 * tenth of a millisecond a batch.
 */
export const RECORDED_PLANNED_EACH_CALL = `           execute $probe$${RECORDED_QUERY}$probe$ into recorded using g->'ids', ws;`;

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql.raw(appendEntriesFunction("create or replace", RECORDED_PLANNED_EACH_CALL)).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql.raw(appendEntriesFunction("create or replace", RECORDED_BY_ID)).execute(db);
}
