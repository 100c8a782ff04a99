import { createHash } from "node:crypto";
import type { Index, Pinecone } from "@pinecone-database/pinecone";
import { z } from "zod";
import { loadOnFirstUse } from "@galaxy/runtime";
import type { ChunkRecord, VectorMatch, VectorQuery, VectorStore } from "./vector-store";

/** The SDK, loaded on first use: a registry without Pinecone never holds it in memory. */
const loadPinecone = loadOnFirstUse(() => import("@pinecone-database/pinecone"));

/** Which Pinecone index a workspace's chunks go to, and with which key. */
export interface PineconeTarget {
  apiKey: string;
  /** The index's name; its host is looked up through the control plane unless `indexHost` is given. */
  indexName: string;
  /** The index's data-plane URL (`https://<index>-<project>.svc.<region>.pinecone.io`); skips the look-up. */
  indexHost?: string | undefined;
  /** Pinecone's control plane (default `https://api.pinecone.io`). */
  controllerHostUrl?: string | undefined;
  /** The `fetch` for a host the workspace chose (checked against the outbound policy); the global one otherwise. */
  fetch?: ((input: string | URL | Request, init?: RequestInit) => Promise<Response>) | undefined;
}

export interface PineconeStoreOptions {
  /** The workspace's Pinecone target: its own credential, else the environment's. */
  target: (workspaceId: string) => Promise<PineconeTarget>;
  /** Retries of a failed call by the client (default 2). */
  maxRetries?: number | undefined;
}

/** Pinecone takes at most 1000 records (and 2 MB) an upsert; chunks of ~800 characters fit 100 comfortably. */
const UPSERT_BATCH = 100;
const MAX_CLIENTS = 1_000;

type ChunkMetadata = { knowledgeBaseId: string; documentId: string; chunkIndex: number; text: string };

// Pinecone's reply is parsed, not trusted: the host may be any server that claims to speak its API.
const Match = z.object({
  id: z.string(),
  score: z.number().optional(),
  metadata: z.object({ knowledgeBaseId: z.string(), documentId: z.string(), chunkIndex: z.number().int().min(0), text: z.string() }).optional(),
});

/**
 * Chunks in a Pinecone index, one namespace per workspace (the namespace is the workspace
 * id, so a query of one workspace cannot reach another's records). Each record's id is
 * `<documentId>:<chunkIndex>`, so indexing a document again overwrites its records; its
 * metadata carries the knowledge base, document, index and text, and queries filter on the
 * knowledge base. The index must use the cosine metric and the embedding model's dimension.
 */
export class PineconeVectorStore implements VectorStore {
  private readonly clients = new Map<string, Pinecone>();

  constructor(private readonly options: PineconeStoreOptions) {}

  async upsert(workspaceId: string, records: readonly ChunkRecord[]): Promise<void> {
    if (records.length === 0) return;
    const index = await this.indexFor(workspaceId);
    for (let offset = 0; offset < records.length; offset += UPSERT_BATCH) {
      const batch = records.slice(offset, offset + UPSERT_BATCH).map((record) => ({
        id: recordId(record.documentId, record.chunkIndex),
        values: record.embedding,
        metadata: { knowledgeBaseId: record.knowledgeBaseId, documentId: record.documentId, chunkIndex: record.chunkIndex, text: record.text },
      }));
      await index.upsert({ records: batch });
    }
  }

  async query(workspaceId: string, query: VectorQuery): Promise<VectorMatch[]> {
    if (query.knowledgeBaseIds.length === 0 || query.vector.length === 0) return [];
    const index = await this.indexFor(workspaceId);
    const reply = await index.query({
      vector: [...query.vector],
      topK: query.topK,
      filter: { knowledgeBaseId: { $in: [...query.knowledgeBaseIds] } },
      includeMetadata: true,
    });
    const matches: VectorMatch[] = [];
    for (const raw of reply.matches) {
      const match = Match.safeParse(raw);
      // A record without Galaxy's metadata was not written by Galaxy: it is not an answer.
      if (!match.success || !match.data.metadata || !query.knowledgeBaseIds.includes(match.data.metadata.knowledgeBaseId)) continue;
      const { metadata } = match.data;
      matches.push({ knowledgeBaseId: metadata.knowledgeBaseId, documentId: metadata.documentId, chunkIndex: metadata.chunkIndex, text: metadata.text, score: match.data.score ?? 0 });
    }
    return matches.sort((a, b) => b.score - a.score).slice(0, query.topK);
  }

  private async indexFor(workspaceId: string): Promise<Index<ChunkMetadata>> {
    const target = await this.options.target(workspaceId);
    const key = createHash("sha256").update(`${target.apiKey}\n${target.controllerHostUrl ?? ""}\n${target.fetch ? "guarded" : "open"}`).digest("base64url");
    let client = this.clients.get(key);
    if (!client) {
      // A rotated key leaves its old client behind; past the bound, start over.
      if (this.clients.size >= MAX_CLIENTS) this.clients.clear();
      const { Pinecone } = await loadPinecone();
      client = new Pinecone({
        apiKey: target.apiKey,
        maxRetries: this.options.maxRetries ?? 2,
        ...(target.controllerHostUrl ? { controllerHostUrl: target.controllerHostUrl } : {}),
        ...(target.fetch ? { fetchApi: target.fetch } : {}),
      });
      this.clients.set(key, client);
    }
    return client.index<ChunkMetadata>({ name: target.indexName, namespace: workspaceId, ...(target.indexHost ? { host: target.indexHost } : {}) });
  }
}

export function recordId(documentId: string, chunkIndex: number): string {
  return `${documentId}:${chunkIndex}`;
}
