/** One chunk of a document with its embedding, as a vector store keeps it. */
export interface ChunkRecord {
  knowledgeBaseId: string;
  documentId: string;
  chunkIndex: number;
  text: string;
  embedding: number[];
}

/** A stored chunk that answered a query, with its cosine similarity to the query (-1..1). */
export interface VectorMatch {
  knowledgeBaseId: string;
  documentId: string;
  chunkIndex: number;
  text: string;
  score: number;
}

export interface VectorQuery {
  /** Only chunks of these knowledge bases answer. */
  knowledgeBaseIds: readonly string[];
  vector: readonly number[];
  topK: number;
}

/**
 * Where chunk embeddings are kept and searched, always within one workspace: Postgres
 * (`PostgresVectorStore`, the default) or Pinecone (`PineconeVectorStore`, a namespace per
 * workspace). Both pass the same suite (`vector-store.suite.ts`).
 */
export interface VectorStore {
  /** Stores chunks; storing a chunk again (same document and index) replaces it. */
  upsert(workspaceId: string, records: readonly ChunkRecord[]): Promise<void>;
  /** The `topK` chunks most similar to the vector, best first. */
  query(workspaceId: string, query: VectorQuery): Promise<VectorMatch[]>;
}

/** The Euclidean length of a vector. */
export function norm(vector: readonly number[]): number {
  let sum = 0;
  for (const value of vector) sum += value * value;
  return Math.sqrt(sum);
}
