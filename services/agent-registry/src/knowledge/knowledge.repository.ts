import { sql, type Kysely, type Selectable, type Transaction } from "@galaxy/db";
import type { DocumentStatus, EmbeddingProvider, KnowledgeBase, KnowledgeDocument } from "@galaxy/contracts";
import type { RegistryDb } from "../db";
import type { EmbeddingSource, KnowledgeBasesTable, KnowledgeDocumentsTable, VectorStoreKind } from "./knowledge.tables";

type Tx = Transaction<RegistryDb>;

/** A knowledge base with where its vectors live and how they are made (never shown to callers). */
export interface StoredKnowledgeBase {
  knowledgeBase: KnowledgeBase;
  vectorStore: VectorStoreKind;
  embeddingProvider: EmbeddingProvider;
  embeddingModel: string;
  embeddingSource: EmbeddingSource;
  /** Null until its first document is indexed. */
  embeddingDimensions: number | null;
}

export interface NewKnowledgeBase {
  id: string;
  workspaceId: string;
  name: string;
  vectorStore: VectorStoreKind;
  embeddingProvider: EmbeddingProvider;
  embeddingModel: string;
  embeddingSource: EmbeddingSource;
  createdBy: string;
}

export async function insertKnowledgeBase(tx: Tx, kb: NewKnowledgeBase): Promise<StoredKnowledgeBase> {
  const row = await tx
    .insertInto("knowledge_bases")
    .values({ id: kb.id, workspace_id: kb.workspaceId, name: kb.name, vector_store: kb.vectorStore, embedding_provider: kb.embeddingProvider, embedding_model: kb.embeddingModel, embedding_source: kb.embeddingSource, created_by: kb.createdBy })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toStored(row, 0);
}

/** Knowledge bases of the transaction's workspace with their document counts. */
function knowledgeBases(tx: Tx) {
  return tx
    .selectFrom("knowledge_bases as kb")
    .selectAll("kb")
    .select((eb) => eb.selectFrom("knowledge_documents as d").whereRef("d.knowledge_base_id", "=", "kb.id").select((e) => e.fn.countAll<string>().as("n")).as("document_count"));
}

export async function findKnowledgeBase(tx: Tx, id: string): Promise<StoredKnowledgeBase | undefined> {
  const row = await knowledgeBases(tx).where("kb.id", "=", id).executeTakeFirst();
  return row ? toStored(row, Number(row.document_count ?? 0)) : undefined;
}

/** Those of `ids` that are knowledge bases of the transaction's workspace; the others are simply absent. */
export async function findKnowledgeBases(tx: Tx, ids: readonly string[]): Promise<StoredKnowledgeBase[]> {
  if (ids.length === 0) return [];
  const rows = await knowledgeBases(tx).where("kb.id", "in", [...ids]).execute();
  return rows.map((row) => toStored(row, Number(row.document_count ?? 0)));
}

/** One page of the workspace's knowledge bases, newest first, and how many there are in all. */
export async function listKnowledgeBases(tx: Tx, page: { limit: number; offset: number }): Promise<{ items: KnowledgeBase[]; total: number }> {
  const total = await tx.selectFrom("knowledge_bases").select((eb) => eb.fn.countAll<string>().as("total")).executeTakeFirstOrThrow();
  // uuidv7 ids rise with time: they order knowledge bases created within the same instant.
  const rows = await knowledgeBases(tx).orderBy("kb.created_at", "desc").orderBy("kb.id", "desc").limit(page.limit).offset(page.offset).execute();
  return { items: rows.map((row) => toStored(row, Number(row.document_count ?? 0)).knowledgeBase), total: Number(total.total) };
}

/**
 * Whether a knowledge base with this id exists in another workspace than `workspaceId` (the
 * security-definer `knowledge_base_exists_elsewhere`). Only asked after a lookup found nothing.
 */
export async function knowledgeBaseExistsElsewhere(db: Kysely<RegistryDb>, id: string, workspaceId: string): Promise<boolean> {
  const result = await sql<{ found: boolean }>`select knowledge_base_exists_elsewhere(${id}::uuid, ${workspaceId}::uuid) as found`.execute(db);
  return result.rows[0]?.found === true;
}

export interface NewDocument {
  id: string;
  workspaceId: string;
  knowledgeBaseId: string;
  title: string;
  text: string;
  sizeBytes: number;
  createdBy: string;
}

export async function insertDocument(tx: Tx, doc: NewDocument): Promise<KnowledgeDocument> {
  const row = await tx
    .insertInto("knowledge_documents")
    .values({
      id: doc.id,
      workspace_id: doc.workspaceId,
      knowledge_base_id: doc.knowledgeBaseId,
      title: doc.title,
      text: doc.text,
      size_bytes: doc.sizeBytes,
      status: "pending",
      chunk_count: null,
      error: null,
      created_by: doc.createdBy,
      indexed_at: null,
    })
    .returning(DOCUMENT_COLUMNS)
    .executeTakeFirstOrThrow();
  return toDocument(row);
}

const DOCUMENT_COLUMNS = ["id", "workspace_id", "knowledge_base_id", "title", "size_bytes", "status", "chunk_count", "error", "created_by", "created_at", "indexed_at"] as const;
type DocumentRow = Pick<Selectable<KnowledgeDocumentsTable>, (typeof DOCUMENT_COLUMNS)[number]>;

export async function listDocuments(
  tx: Tx,
  filter: { knowledgeBaseId: string; status?: DocumentStatus | undefined; limit: number; offset: number },
): Promise<{ items: KnowledgeDocument[]; total: number }> {
  let count = tx.selectFrom("knowledge_documents").select((eb) => eb.fn.countAll<string>().as("total")).where("knowledge_base_id", "=", filter.knowledgeBaseId);
  let page = tx.selectFrom("knowledge_documents").select(DOCUMENT_COLUMNS).where("knowledge_base_id", "=", filter.knowledgeBaseId);
  if (filter.status) {
    count = count.where("status", "=", filter.status);
    page = page.where("status", "=", filter.status);
  }
  const total = await count.executeTakeFirstOrThrow();
  const rows = await page.orderBy("created_at", "desc").orderBy("id", "desc").limit(filter.limit).offset(filter.offset).execute();
  return { items: rows.map(toDocument), total: Number(total.total) };
}

/** A document with its text, for indexing; locked until the transaction ends when `forUpdate`. */
export async function findDocumentForIndexing(tx: Tx, id: string, options: { forUpdate?: boolean } = {}): Promise<(KnowledgeDocument & { text: string }) | undefined> {
  let query = tx.selectFrom("knowledge_documents").select([...DOCUMENT_COLUMNS, "text"]).where("id", "=", id);
  if (options.forUpdate) query = query.forUpdate();
  const row = await query.executeTakeFirst();
  return row ? { ...toDocument(row), text: row.text } : undefined;
}

/** Records how indexing ended for a pending document; false when it was no longer pending. */
export async function finishIndexing(tx: Tx, id: string, outcome: { status: "indexed"; chunkCount: number } | { status: "failed"; error: string }): Promise<boolean> {
  const result = await tx
    .updateTable("knowledge_documents")
    .set({
      status: outcome.status,
      chunk_count: outcome.status === "indexed" ? outcome.chunkCount : null,
      error: outcome.status === "failed" ? outcome.error : null,
      indexed_at: sql<Date>`now()`,
    })
    .where("id", "=", id)
    .where("status", "=", "pending")
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * Records the length of a knowledge base's vectors if none is recorded yet, and answers the
 * recorded one (the row lock orders two first documents indexed at once).
 */
export async function recordEmbeddingDimensions(tx: Tx, id: string, dimensions: number): Promise<number> {
  const row = await tx
    .updateTable("knowledge_bases")
    .set({ embedding_dimensions: sql<number>`coalesce(embedding_dimensions, ${dimensions}::int)` })
    .where("id", "=", id)
    .returning("embedding_dimensions")
    .executeTakeFirstOrThrow();
  return row.embedding_dimensions ?? dimensions;
}

/** Documents of every workspace still pending `olderThanS` seconds after they were added (the security-definer `stale_pending_documents`). */
export async function stalePendingDocuments(db: Kysely<RegistryDb>, olderThanS: number, limit: number): Promise<Array<{ id: string; workspaceId: string }>> {
  const result = await sql<{ id: string; workspace_id: string }>`select * from stale_pending_documents(${olderThanS}::int, ${limit}::int)`.execute(db);
  return result.rows.map((row) => ({ id: row.id, workspaceId: row.workspace_id }));
}

function toStored(row: Selectable<KnowledgeBasesTable>, documentCount: number): StoredKnowledgeBase {
  return {
    knowledgeBase: { id: row.id, workspaceId: row.workspace_id, name: row.name, embeddingProvider: row.embedding_provider, documentCount, createdBy: row.created_by, createdAt: row.created_at.toISOString() },
    vectorStore: row.vector_store,
    embeddingProvider: row.embedding_provider,
    embeddingModel: row.embedding_model,
    embeddingSource: row.embedding_source,
    embeddingDimensions: row.embedding_dimensions,
  };
}

function toDocument(row: DocumentRow): KnowledgeDocument {
  return {
    id: row.id,
    knowledgeBaseId: row.knowledge_base_id,
    workspaceId: row.workspace_id,
    title: row.title,
    sizeBytes: row.size_bytes,
    status: row.status,
    chunkCount: row.chunk_count,
    error: row.error,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    indexedAt: row.indexed_at ? row.indexed_at.toISOString() : null,
  };
}
