import { sql, type Kysely } from "kysely";

/**
 * Completion callbacks: each version of an agent with a `notifyUrl` keeps the secret its
 * callbacks are signed with, sealed with `GALAXY_MASTER_KEY` (libs/secrets). A version that
 * keeps the URL of the one before keeps its secret too; a new URL gets a new secret.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table agent_versions add column notify_secret_sealed text`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table agent_versions drop column notify_secret_sealed`.execute(db);
}
