import { sql, type Kysely } from "kysely";
import { appendEntriesFunction, RECORDED_BY_WORKSPACE } from "./2026_12_04_23_00_00_append_entries";

/**
 * Which of a batch's ids are entries of the workspace already: found by looking each id up in
 * the primary key (or, on a log too short for that to pay, by reading it). Asked as "entries of `ws` among these ids", the
 * planner could instead read every entry of the workspace and match them against the ids: on a
 * table it had no statistics for yet (a new database), or with too few rows per workspace in
 * them, it did, and the check of each batch then grew with the workspace's log (7 ms against
 * 0.5 ms for 150 ids in a log of 20,000). `offset 0` keeps the workspace's condition out of the
 * lookup, so only the primary key can serve it.
 */
export const RECORDED_BY_ID = `           select coalesce(jsonb_agg(r.id), '[]'::jsonb) into recorded
             from (select l.id, l.workspace_id from audit_logs l
                    where l.id in (select value::uuid from jsonb_array_elements_text(g->'ids')) offset 0) r
            where r.workspace_id = ws;`;

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql.raw(appendEntriesFunction("create or replace", RECORDED_BY_ID)).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql.raw(appendEntriesFunction("create or replace", RECORDED_BY_WORKSPACE)).execute(db);
}
