import type { ColumnType, Generated } from "@galaxy/db";
import type { DocumentStatus, EmbeddingProvider } from "@galaxy/contracts";

/** Where a knowledge base's embeddings live; fixed when it is created. */
export type VectorStoreKind = "postgres" | "pinecone";

/** Whose endpoint embeds a knowledge base (`platform`: the environment's, `workspace`: the workspace's own key); fixed when it is created. */
export type EmbeddingSource = "platform" | "workspace";

export interface KnowledgeBasesTable {
  id: string;
  workspace_id: string;
  name: string;
  vector_store: VectorStoreKind;
  /** The model every chunk and query of this knowledge base is embedded with. */
  embedding_model: string;
  /** Whose endpoint embeds it: the environment's or the workspace's own credential. */
  embedding_source: Generated<EmbeddingSource>;
  /** Whose embedding model: OpenAI's or Google's (Gemini). */
  embedding_provider: Generated<EmbeddingProvider>;
  /** The length of its vectors, recorded when its first document is indexed. */
  embedding_dimensions: number | null;
  created_by: string;
  created_at: Generated<Date>;
}

export interface KnowledgeDocumentsTable {
  id: string;
  workspace_id: string;
  knowledge_base_id: string;
  title: string;
  text: string;
  size_bytes: number;
  status: DocumentStatus;
  chunk_count: number | null;
  error: string | null;
  created_by: string;
  created_at: Generated<Date>;
  indexed_at: Date | null;
}

export interface KnowledgeChunksTable {
  workspace_id: string;
  knowledge_base_id: string;
  document_id: string;
  chunk_index: number;
  text: string;
  /** `real[]`: pg returns it as an array of numbers. */
  embedding: ColumnType<number[], number[], number[]>;
  embedding_norm: number;
}
