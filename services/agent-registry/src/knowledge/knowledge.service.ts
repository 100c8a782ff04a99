import { isRetryable, type EventMessage } from "@galaxy/bus";
import {
  authorize, DOCUMENT_MAX_BYTES, GalaxyError, pagination, principalOf, type Action, type CreateKnowledgeBaseBody, type EmbeddingProvider, type EventActor, type KnowledgeBase,
  type KnowledgeDocument, type KnowledgeQueryReply, type KnowledgeSearchReply, type ParsedRequest, type ReplyData, type WorkspaceClaim, uuidv7,
} from "@galaxy/contracts";
import { appendEvent, inWorkspace, reportCrossWorkspaceAttempt, type EventContext, type Kysely, type OutboxRelay, type OutboxRow } from "@galaxy/db";
import { currentTraceparent, type Logger } from "@galaxy/observability";
import type { RegistryDb } from "../db";
import { ActionForbiddenError } from "../errors";
import type { Caller } from "../agents/agents.service";
import { chunkText } from "./chunking";
import type { EmbeddingSpec } from "./embedder";
import { outboundRefusalIn } from "@galaxy/webhooks";
import {
  DocumentTooLargeError, EmbeddingDimensionMismatchError, EmbeddingFailedError, KnowledgeBaseNotFoundError, VectorStoreNotAllowedError, VectorStoreUnavailableError,
} from "./knowledge.errors";
import {
  findDocumentForIndexing, findKnowledgeBase, findKnowledgeBases, finishIndexing, insertDocument, insertKnowledgeBase, knowledgeBaseExistsElsewhere,
  listDocuments, listKnowledgeBases, recordEmbeddingDimensions, stalePendingDocuments, type StoredKnowledgeBase,
} from "./knowledge.repository";
import type { EmbeddingSource, VectorStoreKind } from "./knowledge.tables";
import type { VectorMatch, VectorStore } from "./vector-store";

/** Makes embeddings for a workspace with a knowledge base's model and source (`Embedder`). */
export interface TextEmbedder {
  embed(workspaceId: string, spec: EmbeddingSpec, texts: readonly string[], onBatch?: () => void): Promise<number[][]>;
}

/** Where a new knowledge base of a workspace will keep its vectors, and which provider's model, from whose endpoint, makes them. */
export interface Placement {
  vectorStore: VectorStoreKind;
  embeddingProvider: EmbeddingProvider;
  embeddingModel: string;
  embeddingSource: EmbeddingSource;
}

export interface KnowledgeServiceDeps {
  db: Kysely<RegistryDb>;
  relay: OutboxRelay;
  embedder: TextEmbedder;
  stores: Record<VectorStoreKind, VectorStore>;
  /** Decides the vector store and model of a knowledge base when it is created, with the provider the caller asked for if any. */
  placement: (workspaceId: string, provider: EmbeddingProvider | undefined) => Promise<Placement>;
  /** The registry's own claim for a workspace, for the events indexing causes. */
  serviceClaim: (workspaceId: string) => Promise<string>;
  logger: Logger;
  /** Attempts at indexing a document before it is marked `failed` (the consumer's `maxDeliveries`). */
  indexingAttempts: number;
}

/** The operations that look a knowledge base up by id, as a `security.cross_workspace_attempt` names them. */
export type KnowledgeLookup = "knowledge_bases.get" | "documents.add" | "documents.list" | "knowledge.query";

export type KnowledgeBasePage = ReplyData<"registry.knowledge_bases.list">;
export type DocumentPage = ReplyData<"registry.documents.list">;

/** The registry's service actor, on the events indexing causes. */
const REGISTRY_ACTOR: EventActor = { type: "service", id: "agent-registry" };

/**
 * Knowledge bases of the caller's workspace, their documents, and search over them. Adding a
 * document commits it as `pending` with its `document.added` event; the registry's durable
 * consumer of that event chunks, embeds and stores it (`indexDocument`) and marks it
 * `indexed` (or `failed`), so an accepted document is never lost to a crash.
 */
export class KnowledgeService {
  constructor(private readonly deps: KnowledgeServiceDeps) {}

  async createKnowledgeBase(caller: Caller, body: CreateKnowledgeBaseBody): Promise<KnowledgeBase> {
    const { db, relay } = this.deps;
    const { claim } = caller;
    requireAllowed(claim, "knowledge.create");
    const placement = await this.deps.placement(claim.ws, body.embeddingProvider);
    const events: OutboxRow[] = [];
    const created = await inWorkspace(db, claim.ws, async (tx) => {
      const stored = await insertKnowledgeBase(tx, { id: uuidv7(), workspaceId: claim.ws, name: body.name, ...placement, createdBy: claim.sub });
      events.push(
        await appendEvent(tx, { type: "knowledge_base.created", workspaceId: claim.ws, actor: actorOf(claim), context: caller.eventContext(), data: { knowledgeBase: stored.knowledgeBase } }),
      );
      return stored.knowledgeBase;
    });
    relay.publishNow(events);
    return created;
  }

  async listKnowledgeBases(caller: Caller, page: { limit: number; offset: number }): Promise<KnowledgeBasePage> {
    const { claim } = caller;
    requireAllowed(claim, "knowledge.read");
    const { items, total } = await inWorkspace(this.deps.db, claim.ws, (tx) => listKnowledgeBases(tx, page));
    return { items, pagination: pagination(total, page) };
  }

  async getKnowledgeBase(caller: Caller, id: string): Promise<KnowledgeBase> {
    const stored = await this.lookup(caller, id, "knowledge_bases.get");
    requireAllowed(caller.claim, "knowledge.read");
    return stored.knowledgeBase;
  }

  /** Stores a document as `pending`; it is indexed asynchronously (202). */
  async addDocument(caller: Caller, request: ParsedRequest<"registry.documents.add">): Promise<KnowledgeDocument> {
    const { db, relay } = this.deps;
    const { claim } = caller;
    // Not found comes before the role check: another workspace's id must look like a missing one.
    await this.lookup(caller, request.knowledgeBaseId, "documents.add");
    requireAllowed(claim, "knowledge.create");
    const sizeBytes = Buffer.byteLength(request.text, "utf8");
    if (sizeBytes > DOCUMENT_MAX_BYTES) throw new DocumentTooLargeError(sizeBytes);
    const events: OutboxRow[] = [];
    const document = await inWorkspace(db, claim.ws, async (tx) => {
      const doc = await insertDocument(tx, { id: uuidv7(), workspaceId: claim.ws, knowledgeBaseId: request.knowledgeBaseId, title: request.title, text: request.text, sizeBytes, createdBy: claim.sub });
      events.push(
        await appendEvent(tx, {
          type: "document.added",
          workspaceId: claim.ws,
          actor: actorOf(claim),
          context: caller.eventContext(),
          data: { documentId: doc.id, knowledgeBaseId: doc.knowledgeBaseId, title: doc.title, sizeBytes },
        }),
      );
      return doc;
    });
    relay.publishNow(events);
    return document;
  }

  async listDocuments(caller: Caller, request: ParsedRequest<"registry.documents.list">): Promise<DocumentPage> {
    const { claim } = caller;
    await this.lookup(caller, request.knowledgeBaseId, "documents.list");
    requireAllowed(claim, "knowledge.read");
    const { items, total } = await inWorkspace(this.deps.db, claim.ws, (tx) => listDocuments(tx, request));
    return { items, pagination: pagination(total, request) };
  }

  /** `POST /api/knowledge-bases/{id}/query`: the chunks of one knowledge base closest to the query. */
  async query(caller: Caller, request: ParsedRequest<"registry.knowledge.query">): Promise<KnowledgeQueryReply> {
    const stored = await this.lookup(caller, request.knowledgeBaseId, "knowledge.query");
    requireAllowed(caller.claim, "knowledge.read");
    const matches = await this.searchBases(caller.claim.ws, [stored], request.query, request.topK);
    return matches.map((match) => ({ documentId: match.documentId, chunkIndex: match.chunkIndex, chunk: match.text, score: match.score }));
  }

  /**
   * `registry.knowledge.search` for the execution worker: the chunks closest to the query across
   * the asked knowledge bases of the claim's workspace. Ids that are not knowledge bases of that
   * workspace are simply absent; they are not reported, since an agent's configuration, not a
   * person, named them.
   */
  async search(caller: Caller, request: ParsedRequest<"registry.knowledge.search">): Promise<KnowledgeSearchReply> {
    const { claim } = caller;
    requireAllowed(claim, "knowledge.read");
    const ids = [...new Set(request.knowledgeBaseIds)];
    const bases = await inWorkspace(this.deps.db, claim.ws, (tx) => findKnowledgeBases(tx, ids));
    const matches = await this.searchBases(claim.ws, bases, request.query, request.topK);
    return { results: matches.map((match) => ({ knowledgeBaseId: match.knowledgeBaseId, documentId: match.documentId, chunkIndex: match.chunkIndex, chunk: match.text, score: match.score })) };
  }

  /**
   * Applies one `document.added` event: chunks, embeds and stores the document, then marks it
   * `indexed` with its `document.indexed` event. A document no longer pending (a redelivery
   * after it was indexed) is skipped. Failures worth retrying are thrown for the consumer to
   * retry until the last attempt; a final failure marks the document `failed`.
   */
  async indexDocument(message: EventMessage): Promise<void> {
    const { event } = message;
    if (event.type !== "document.added") return;
    const workspaceId = event.workspaceId;
    const { documentId, knowledgeBaseId } = event.data;
    const found = await inWorkspace(this.deps.db, workspaceId, async (tx) => ({
      document: await findDocumentForIndexing(tx, documentId),
      base: await findKnowledgeBase(tx, knowledgeBaseId),
    }));
    const logger = this.deps.logger.child({ workspaceId, documentId, knowledgeBaseId });
    if (!found.document || !found.base) {
      logger.warn("document.added names a document that is not there; nothing to index");
      return;
    }
    if (found.document.status !== "pending") {
      logger.debug({ status: found.document.status }, "document already indexed; skipped");
      return;
    }
    const base = found.base;
    const chunks = chunkText(found.document.text);
    try {
      // A large document takes many embedding requests: each one tells JetStream the work goes on.
      const vectors = await this.deps.embedder.embed(workspaceId, specOf(base), chunks, () => message.working());
      await this.checkDimensions(workspaceId, base, vectors);
      const records = chunks.map((text, chunkIndex) => ({ knowledgeBaseId, documentId, chunkIndex, text, embedding: vectors[chunkIndex] ?? [] }));
      await this.store(base).upsert(workspaceId, records).catch((error: unknown) => {
        throw storeFailure(error);
      });
    } catch (error) {
      if (isRetryable(error) && message.attempt < this.deps.indexingAttempts) throw error;
      logger.warn({ err: error, attempt: message.attempt }, "indexing a document failed");
      await this.finish(message, found.document, { status: "failed", error: reasonOf(error) });
      return;
    }
    await this.finish(message, found.document, { status: "indexed", chunkCount: chunks.length });
  }

  /**
   * Marks failed the documents of every workspace still `pending` `olderThanS` seconds after
   * they were added: every delivery of their `document.added` was lost (the indexer crashed
   * each time, or the event was dead-lettered), so nothing will index them any more. Each gets
   * its `document.indexed` event with status `failed`. Answers how many were marked.
   */
  async failStalePending(olderThanS: number, limit = 100): Promise<number> {
    const stale = await stalePendingDocuments(this.deps.db, olderThanS, limit);
    let marked = 0;
    for (const { id, workspaceId } of stale) {
      const document = await inWorkspace(this.deps.db, workspaceId, (tx) => findDocumentForIndexing(tx, id));
      if (!document || document.status !== "pending") continue;
      const context: EventContext = { claim: await this.deps.serviceClaim(workspaceId), traceparent: currentTraceparent(), correlationId: uuidv7(), causationId: uuidv7() };
      const error = `Indexing did not finish within ${Math.round(olderThanS / 60)} minutes of the document being added (the indexer failed every time); add the document again`;
      if (await this.finish(context, document, { status: "failed", error })) marked += 1;
    }
    if (marked > 0) this.deps.logger.warn({ marked }, "documents left pending were marked failed");
    return marked;
  }

  /** The vectors must all have the knowledge base's length (recorded by its first indexed document). */
  private async checkDimensions(workspaceId: string, base: StoredKnowledgeBase, vectors: readonly number[][]): Promise<void> {
    const length = vectors[0]?.length;
    if (length === undefined) return;
    const odd = vectors.find((vector) => vector.length !== length);
    if (odd) throw new EmbeddingFailedError(`The embedding provider answered vectors of different lengths (${length} and ${odd.length})`);
    const expected = base.embeddingDimensions ?? (await inWorkspace(this.deps.db, workspaceId, (tx) => recordEmbeddingDimensions(tx, base.knowledgeBase.id, length)));
    if (expected !== length) throw new EmbeddingDimensionMismatchError(expected, length);
  }

  private async finish(
    source: EventMessage | EventContext,
    document: KnowledgeDocument,
    outcome: { status: "indexed"; chunkCount: number } | { status: "failed"; error: string },
  ): Promise<boolean> {
    const { db, relay } = this.deps;
    const workspaceId = document.workspaceId;
    const context: EventContext = "derivedContext" in source ? source.derivedContext(await this.deps.serviceClaim(workspaceId)) : source;
    const events: OutboxRow[] = [];
    await inWorkspace(db, workspaceId, async (tx) => {
      // Only the first to finish a pending document records it: a concurrent redelivery changes nothing.
      if (!(await finishIndexing(tx, document.id, outcome))) return;
      events.push(
        await appendEvent(tx, {
          type: "document.indexed",
          workspaceId,
          actor: REGISTRY_ACTOR,
          context,
          data: {
            documentId: document.id,
            knowledgeBaseId: document.knowledgeBaseId,
            title: document.title,
            status: outcome.status,
            chunkCount: outcome.status === "indexed" ? outcome.chunkCount : 0,
            error: outcome.status === "failed" ? outcome.error : null,
          },
        }),
      );
    });
    relay.publishNow(events);
    return events.length > 0;
  }

  /** Embeds the query once per embedding provider, model and source, and merges the stores' answers, best first. */
  private async searchBases(workspaceId: string, bases: readonly StoredKnowledgeBase[], query: string, topK: number): Promise<VectorMatch[]> {
    const groups = new Map<string, { base: StoredKnowledgeBase; ids: string[] }>();
    for (const base of bases) {
      const key = `${base.vectorStore}\n${base.embeddingProvider}\n${base.embeddingSource}\n${base.embeddingModel}`;
      const group = groups.get(key);
      if (group) group.ids.push(base.knowledgeBase.id);
      else groups.set(key, { base, ids: [base.knowledgeBase.id] });
    }
    const vectors = new Map<string, number[]>();
    const matches: VectorMatch[] = [];
    for (const { base, ids } of groups.values()) {
      const specKey = `${base.embeddingProvider}\n${base.embeddingSource}\n${base.embeddingModel}`;
      let vector = vectors.get(specKey);
      if (!vector) {
        const [embedded] = await this.deps.embedder.embed(workspaceId, specOf(base), [query]);
        vector = embedded ?? [];
        vectors.set(specKey, vector);
      }
      // A query of another length than the chunks' cannot be compared with them: say so.
      for (const one of bases) {
        if (ids.includes(one.knowledgeBase.id) && one.embeddingDimensions !== null && one.embeddingDimensions !== vector.length) {
          throw new EmbeddingDimensionMismatchError(one.embeddingDimensions, vector.length);
        }
      }
      const found = await this.store(base)
        .query(workspaceId, { knowledgeBaseIds: ids, vector, topK })
        .catch((error: unknown) => {
          throw storeFailure(error);
        });
      matches.push(...found);
    }
    return matches.sort((a, b) => b.score - a.score).slice(0, topK);
  }

  private store(base: StoredKnowledgeBase): VectorStore {
    return this.deps.stores[base.vectorStore];
  }

  /**
   * A knowledge base of the caller's workspace, or the 404 of a missing one. When the id is a
   * knowledge base of another workspace, the attempt is also recorded as a
   * `security.cross_workspace_attempt` (as for agents: every miss asks, a failed report is logged).
   */
  private async lookup(caller: Caller, id: string, operation: KnowledgeLookup): Promise<StoredKnowledgeBase> {
    const stored = await inWorkspace(this.deps.db, caller.claim.ws, (tx) => findKnowledgeBase(tx, id));
    if (stored) return stored;
    const { db, relay } = this.deps;
    const { claim } = caller;
    await reportCrossWorkspaceAttempt({
      db, relay, claim, eventContext: () => caller.eventContext(), targetType: "knowledge_base", targetId: id, operation, logger: caller.logger,
      existsElsewhere: () => knowledgeBaseExistsElsewhere(db, id, claim.ws),
    });
    throw new KnowledgeBaseNotFoundError(id);
  }
}

/** How a knowledge base's texts are embedded. */
function specOf(base: StoredKnowledgeBase): EmbeddingSpec {
  return { provider: base.embeddingProvider, model: base.embeddingModel, source: base.embeddingSource };
}

/**
 * A vector store's own failure is worth retrying, unless the outbound policy refused the
 * workspace's index host; Galaxy's typed errors keep their meaning. Its message is cut short.
 */
function storeFailure(error: unknown): unknown {
  if (error instanceof GalaxyError) return error;
  const refused = outboundRefusalIn(error);
  if (refused) return new VectorStoreNotAllowedError(refused.message, { cause: error });
  const message = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ").slice(0, 300);
  return new VectorStoreUnavailableError(`The vector store failed: ${message}`, { cause: error });
}

/** What a `failed` document shows as its reason: the typed error's message, never a stack. */
function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : "indexing failed";
  return message.length > 500 ? `${message.slice(0, 497)}...` : message;
}

function requireAllowed(claim: WorkspaceClaim, action: Action): void {
  if (!authorize(principalOf(claim), action)) throw new ActionForbiddenError(action);
}

function actorOf(claim: WorkspaceClaim): EventActor {
  return { type: claim.act, id: claim.sub };
}
