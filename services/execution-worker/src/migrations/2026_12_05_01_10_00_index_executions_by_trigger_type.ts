import { sql, type Kysely } from "kysely";

/**
 * `GET /api/executions?triggerType=` lists a workspace's executions of one trigger type, newest
 * first: this index reads them in that order. The time range (`createdAfter`, `createdBefore`)
 * is served by `executions_workspace (workspace_id, created_at desc)` alone, or by this one
 * with a trigger type.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index executions_trigger_type on executions (workspace_id, (trigger->>'type'), created_at desc)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists executions_trigger_type`.execute(db);
}
