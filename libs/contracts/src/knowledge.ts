import { z } from "zod";
import { IsoDateTime, Uuid, WorkspaceId } from "./ids";
import { PageQuery } from "./pagination";

/**
 * Knowledge bases (docs/api.md): named collections of documents a workspace's agents can
 * search. A document is stored as given, then chunked and embedded asynchronously.
 */

/** The largest document text accepted, in UTF-8 bytes (larger → 413 `document_too_large`). */
export const DOCUMENT_MAX_BYTES = 512 * 1024;
/** How many results a query may ask for, and how many it gets when it does not say. */
export const KNOWLEDGE_TOP_K_MAX = 50;
export const KNOWLEDGE_TOP_K_DEFAULT = 5;

export const KnowledgeBaseName = z.string().trim().min(1).max(200);

/**
 * Whose embedding model makes a knowledge base's vectors, chosen when it is created and kept
 * for its whole life: OpenAI's (the default) or Google's Gemini.
 */
export const EmbeddingProvider = z.enum(["openai", "google"]);
export type EmbeddingProvider = z.infer<typeof EmbeddingProvider>;

export const CreateKnowledgeBaseBody = z.object({ name: KnowledgeBaseName, embeddingProvider: EmbeddingProvider.optional() }).strict();
export type CreateKnowledgeBaseBody = z.infer<typeof CreateKnowledgeBaseBody>;

export const KnowledgeBase = z.object({
  id: Uuid,
  workspaceId: WorkspaceId,
  name: z.string(),
  // Events recorded before knowledge bases could embed with Gemini have none: they were OpenAI's.
  embeddingProvider: EmbeddingProvider.default("openai"),
  documentCount: z.number().int().min(0),
  createdBy: z.string(),
  createdAt: IsoDateTime,
});
export type KnowledgeBase = z.infer<typeof KnowledgeBase>;

export const DocumentStatus = z.enum(["pending", "indexed", "failed"]);
export type DocumentStatus = z.infer<typeof DocumentStatus>;

/**
 * Body of `POST /api/knowledge-bases/{id}/documents`. The text's byte size is checked by the
 * registry (413 `document_too_large`), not here, so an oversized text gets its own clear code.
 */
export const AddDocumentBody = z
  .object({
    title: z.string().trim().min(1).max(500),
    text: z.string().refine((text) => text.trim().length > 0, "must not be empty"),
  })
  .strict();
export type AddDocumentBody = z.infer<typeof AddDocumentBody>;

/** A document as lists show it: never its text. */
export const KnowledgeDocument = z.object({
  id: Uuid,
  knowledgeBaseId: Uuid,
  workspaceId: WorkspaceId,
  title: z.string(),
  sizeBytes: z.number().int().min(0),
  status: DocumentStatus,
  chunkCount: z.number().int().min(0).nullable(),
  /** Why indexing failed (`status: "failed"`), else null. */
  error: z.string().nullable(),
  createdBy: z.string(),
  createdAt: IsoDateTime,
  indexedAt: IsoDateTime.nullable(),
});
export type KnowledgeDocument = z.infer<typeof KnowledgeDocument>;

export const TopK = z.number().int().min(1).max(KNOWLEDGE_TOP_K_MAX);

/** Body of `POST /api/knowledge-bases/{id}/query`. */
export const KnowledgeQueryBody = z
  .object({ query: z.string().trim().min(1).max(8000), topK: TopK.default(KNOWLEDGE_TOP_K_DEFAULT) })
  .strict();
export type KnowledgeQueryBody = z.infer<typeof KnowledgeQueryBody>;

/** One ranked chunk of `POST /api/knowledge-bases/{id}/query`: docs/api.md `{documentId, chunk, score}`. */
export const KnowledgeQueryResult = z.object({
  documentId: Uuid,
  chunkIndex: z.number().int().min(0),
  chunk: z.string(),
  /** Cosine similarity of the query and the chunk, -1..1; higher is closer. */
  score: z.number(),
});
export type KnowledgeQueryResult = z.infer<typeof KnowledgeQueryResult>;

export const KnowledgeBaseRef = z.object({ knowledgeBaseId: Uuid }).strict();
export type KnowledgeBaseRef = z.infer<typeof KnowledgeBaseRef>;

export const AddDocumentRequest = AddDocumentBody.extend({ knowledgeBaseId: Uuid }).strict();
export type AddDocumentRequest = z.infer<typeof AddDocumentRequest>;

export const DocumentListQuery = z.object({ status: DocumentStatus.optional() });
export type DocumentListQuery = z.infer<typeof DocumentListQuery>;

export const ListDocumentsRequest = PageQuery.extend(DocumentListQuery.shape).extend({ knowledgeBaseId: Uuid }).strict();
export type ListDocumentsRequest = z.infer<typeof ListDocumentsRequest>;

export const KnowledgeQueryRequest = KnowledgeQueryBody.extend({ knowledgeBaseId: Uuid }).strict();
export type KnowledgeQueryRequest = z.infer<typeof KnowledgeQueryRequest>;

export const KnowledgeQueryReply = z.array(KnowledgeQueryResult);
export type KnowledgeQueryReply = z.infer<typeof KnowledgeQueryReply>;

/**
 * `registry.knowledge.search`: the execution worker's search over an agent's knowledge bases
 * (the `knowledge_search` tool and the context step). Only knowledge bases of the claim's
 * workspace are searched; ids that are unknown there are simply absent from the results.
 */
export const KnowledgeSearchRequest = z
  .object({
    knowledgeBaseIds: z.array(Uuid).min(1).max(32),
    query: z.string().min(1).max(8000),
    topK: TopK.default(KNOWLEDGE_TOP_K_DEFAULT),
  })
  .strict();
export type KnowledgeSearchRequest = z.infer<typeof KnowledgeSearchRequest>;

export const KnowledgeSearchHit = z.object({
  knowledgeBaseId: Uuid,
  documentId: Uuid,
  chunkIndex: z.number().int().min(0),
  chunk: z.string(),
  score: z.number(),
});
export type KnowledgeSearchHit = z.infer<typeof KnowledgeSearchHit>;

export const KnowledgeSearchReply = z.object({ results: z.array(KnowledgeSearchHit) });
export type KnowledgeSearchReply = z.infer<typeof KnowledgeSearchReply>;

// Events (docs/bus.md). Never a document's text: its title, size and chunk count only.

export const KnowledgeBaseCreated = z.object({ knowledgeBase: KnowledgeBase });
export type KnowledgeBaseCreated = z.infer<typeof KnowledgeBaseCreated>;

export const DocumentAdded = z.object({ documentId: Uuid, knowledgeBaseId: Uuid, title: z.string(), sizeBytes: z.number().int().min(0) });
export type DocumentAdded = z.infer<typeof DocumentAdded>;

/** Indexing finished: `status` is `indexed` with its chunk count, or `failed` with the reason. */
export const DocumentIndexed = z.object({
  documentId: Uuid,
  knowledgeBaseId: Uuid,
  title: z.string(),
  status: DocumentStatus.exclude(["pending"]),
  chunkCount: z.number().int().min(0),
  error: z.string().nullable(),
});
export type DocumentIndexed = z.infer<typeof DocumentIndexed>;
