import { inWorkspace, sql, type Kysely } from "@galaxy/db";
import type { RegistryDb } from "../db";
import { EmbeddingDimensionMismatchError } from "./knowledge.errors";
import { norm, type ChunkRecord, type VectorMatch, type VectorQuery, type VectorStore } from "./vector-store";

/** Rows written per insert statement. */
const UPSERT_BATCH = 200;

/**
 * Embeddings in the registry's own `knowledge_chunks` table (`real[]`), searched exactly:
 * every chunk of the asked knowledge bases is scored in SQL, under row-level security, so a
 * query sees its own workspace's chunks alone. Fine for thousands of chunks a workspace;
 * Pinecone is the path beyond that.
 */
export class PostgresVectorStore implements VectorStore {
  constructor(private readonly db: Kysely<RegistryDb>) {}

  async upsert(workspaceId: string, records: readonly ChunkRecord[]): Promise<void> {
    if (records.length === 0) return;
    await inWorkspace(this.db, workspaceId, async (tx) => {
      for (let offset = 0; offset < records.length; offset += UPSERT_BATCH) {
        const rows = records.slice(offset, offset + UPSERT_BATCH).map((record) => ({
          workspace_id: workspaceId,
          knowledge_base_id: record.knowledgeBaseId,
          document_id: record.documentId,
          chunk_index: record.chunkIndex,
          text: record.text,
          embedding: record.embedding,
          embedding_norm: norm(record.embedding),
        }));
        await tx
          .insertInto("knowledge_chunks")
          .values(rows)
          .onConflict((oc) =>
            oc.columns(["document_id", "chunk_index"]).doUpdateSet((eb) => ({
              text: eb.ref("excluded.text"),
              embedding: eb.ref("excluded.embedding"),
              embedding_norm: eb.ref("excluded.embedding_norm"),
            })),
          )
          .execute();
      }
    });
  }

  async query(workspaceId: string, query: VectorQuery): Promise<VectorMatch[]> {
    if (query.knowledgeBaseIds.length === 0 || query.vector.length === 0) return [];
    const queryNorm = norm(query.vector);
    if (queryNorm === 0) return [];
    const vector = [...query.vector];
    const ids = [...query.knowledgeBaseIds];
    const dimensions = vector.length;
    const rows = await inWorkspace(this.db, workspaceId, async (tx) => {
      // Every chunk is scored anyway (the order needs them all): the window counts, on the way,
      // those of another length, which cannot be compared with the query.
      const result = await sql<{ knowledge_base_id: string; document_id: string; chunk_index: number; text: string; score: number; mismatched: string; other: number | null }>`
        select knowledge_base_id, document_id, chunk_index, text,
          case when embedding_norm = 0 or cardinality(embedding) <> ${dimensions}::int then 0
            else (select sum(a::float8 * b) from unnest(embedding, ${vector}::float8[]) as t(a, b)) / (embedding_norm * ${queryNorm}::float8)
          end as score,
          count(*) filter (where cardinality(embedding) <> ${dimensions}::int) over () as mismatched,
          min(cardinality(embedding)) filter (where cardinality(embedding) <> ${dimensions}::int) over () as other
        from knowledge_chunks
        where knowledge_base_id = any(${ids}::uuid[])
        order by score desc, document_id, chunk_index
        limit ${query.topK}::int`.execute(tx);
      return result.rows;
    });
    const first = rows[0];
    if (first && Number(first.mismatched) > 0) throw new EmbeddingDimensionMismatchError(Number(first.other), dimensions);
    return rows.map((row) => ({
      knowledgeBaseId: row.knowledge_base_id,
      documentId: row.document_id,
      chunkIndex: row.chunk_index,
      text: row.text,
      score: Number(row.score),
    }));
  }
}
