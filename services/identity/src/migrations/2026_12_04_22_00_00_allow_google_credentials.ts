import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  // Google (Gemini) joins the providers a workspace may hold a key for.
  await sql`alter table provider_credentials
      drop constraint provider_credentials_provider_check,
      add constraint provider_credentials_provider_check check (provider in ('openai', 'anthropic', 'google', 'pinecone'))`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`delete from provider_credentials where provider = 'google'`.execute(db);
  await sql`alter table provider_credentials
      drop constraint provider_credentials_provider_check,
      add constraint provider_credentials_provider_check check (provider in ('openai', 'anthropic', 'pinecone'))`.execute(db);
}
