import { sql, type Kysely } from "kysely";

/**
 * A knowledge base keeps whose embedding model makes its vectors: OpenAI's or Google's
 * (Gemini), chosen when it is created, like its source and model. Knowledge bases created
 * before were all OpenAI's.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table knowledge_bases
      add column embedding_provider text not null default 'openai' check (embedding_provider in ('openai', 'google'))`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table knowledge_bases drop column if exists embedding_provider`.execute(db);
}
