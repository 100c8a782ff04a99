import { sql, type Kysely } from "kysely";

/**
 * What an API key creates is owned by the key and by its creator (docs/api.md): the agent
 * keeps both, `created_by` (the key, or the user) and `created_by_user` (the person behind it).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table agents add column created_by_user text`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table agents drop column created_by_user`.execute(db);
}
