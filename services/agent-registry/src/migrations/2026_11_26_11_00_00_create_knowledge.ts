import { sql, type Kysely } from "kysely";
import { createSecurityDefinerFunction, enableWorkspaceRls } from "@galaxy/db";

/**
 * Knowledge bases, their documents, and the documents' chunks with their embeddings. A
 * knowledge base keeps the vector store and embedding model it was created with, so its
 * chunks and its queries always meet in the same store, embedded by the same model.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table knowledge_bases (
      id uuid primary key,
      workspace_id uuid not null,
      name text not null,
      vector_store text not null check (vector_store in ('postgres', 'pinecone')),
      embedding_model text not null,
      created_by text not null,
      created_at timestamptz not null default now(),
      unique (workspace_id, id)
    )`.execute(db);
  await sql`create index knowledge_bases_listing on knowledge_bases (workspace_id, created_at desc, id desc)`.execute(db);
  await enableWorkspaceRls(db, "knowledge_bases");

  // The text stays here whatever the vector store: indexing reads it, and a failed or lost
  // index can always be rebuilt from it.
  await sql`create table knowledge_documents (
      id uuid primary key,
      workspace_id uuid not null,
      knowledge_base_id uuid not null,
      title text not null,
      text text not null,
      size_bytes int not null check (size_bytes >= 0),
      status text not null check (status in ('pending', 'indexed', 'failed')),
      chunk_count int check (chunk_count >= 0),
      error text,
      created_by text not null,
      created_at timestamptz not null default now(),
      indexed_at timestamptz,
      unique (workspace_id, id),
      foreign key (workspace_id, knowledge_base_id) references knowledge_bases (workspace_id, id)
    )`.execute(db);
  await sql`create index knowledge_documents_listing on knowledge_documents (workspace_id, knowledge_base_id, created_at desc, id desc)`.execute(db);
  await enableWorkspaceRls(db, "knowledge_documents");

  // Embeddings in real[] (no pgvector on these machines): searched exactly, per workspace.
  await sql`create table knowledge_chunks (
      workspace_id uuid not null,
      knowledge_base_id uuid not null,
      document_id uuid not null,
      chunk_index int not null check (chunk_index >= 0),
      text text not null,
      embedding real[] not null,
      embedding_norm double precision not null,
      primary key (document_id, chunk_index),
      foreign key (workspace_id, document_id) references knowledge_documents (workspace_id, id) on delete cascade
    )`.execute(db);
  await sql`create index knowledge_chunks_by_base on knowledge_chunks (workspace_id, knowledge_base_id)`.execute(db);
  await enableWorkspaceRls(db, "knowledge_chunks");

  await createSecurityDefinerFunction(db, "agent-registry", {
    name: "knowledge_base_exists_elsewhere",
    args: "p_id uuid, p_workspace_id uuid",
    returns: "boolean",
    body: "select exists (select 1 from knowledge_bases where id = p_id and workspace_id <> p_workspace_id)",
    reason:
      "A lookup of a knowledge base by id that found nothing in the caller's workspace asks whether the id belongs to another workspace, so the attempt is reported as security.cross_workspace_attempt; the caller still gets the 404 of a missing knowledge base.",
  });
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function if exists knowledge_base_exists_elsewhere(uuid, uuid)`.execute(db);
  for (const table of ["knowledge_chunks", "knowledge_documents", "knowledge_bases"]) await sql`drop table if exists ${sql.table(table)} cascade`.execute(db);
}
