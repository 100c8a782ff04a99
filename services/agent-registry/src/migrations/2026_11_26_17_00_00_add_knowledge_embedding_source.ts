import { sql, type Kysely } from "kysely";
import { createSecurityDefinerFunction } from "@galaxy/db";

/**
 * A knowledge base keeps whose OpenAI endpoint embeds it (`platform`: the environment's, or
 * `workspace`: the workspace's own credential), chosen with its model when it is created, and
 * the length of its vectors once its first document is indexed. Its chunks and queries are
 * then always embedded the same way, and a provider that starts answering vectors of another
 * length is an error, never a search that quietly finds nothing. Knowledge bases created
 * before keep the environment's endpoint.
 *
 * `stale_pending_documents` lets the registry find documents whose indexing never finished
 * (every delivery of their `document.added` lost to crashes) and mark them failed.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table knowledge_bases
      add column embedding_source text not null default 'platform' check (embedding_source in ('platform', 'workspace')),
      add column embedding_dimensions int check (embedding_dimensions > 0)`.execute(db);
  await sql`create index knowledge_documents_pending on knowledge_documents (created_at) where status = 'pending'`.execute(db);
  await createSecurityDefinerFunction(db, "agent-registry", {
    name: "stale_pending_documents",
    args: "p_older_than_s int, p_limit int",
    returns: "table (id uuid, workspace_id uuid)",
    body: `select d.id, d.workspace_id from knowledge_documents d
      where d.status = 'pending' and d.created_at < now() - make_interval(secs => p_older_than_s)
      order by d.created_at limit p_limit`,
    reason:
      "The registry's sweep finds documents left pending in every workspace long after they were added (their indexing lost to repeated crashes) and marks each failed inside its own workspace; it reads ids only, never a title or text.",
  });
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function if exists stale_pending_documents(int, int)`.execute(db);
  await sql`drop index if exists knowledge_documents_pending`.execute(db);
  await sql`alter table knowledge_bases drop column if exists embedding_dimensions, drop column if exists embedding_source`.execute(db);
}
