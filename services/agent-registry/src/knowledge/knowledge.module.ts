import type { Bus } from "@galaxy/bus";
import type { EmbeddingProvider } from "@galaxy/contracts";
import type { Kysely, OutboxRelay } from "@galaxy/db";
import type { Logger } from "@galaxy/observability";
import { guardedFetch, parseAllowlist, type OutboundPolicy } from "@galaxy/webhooks";
import type { RegistryDb } from "../db";
import { BusCredentials, type WorkspaceCredentials } from "./credentials";
import { Embedder } from "./embedder";
import { INDEXING_ATTEMPTS } from "./knowledge.handlers";
import { VectorStoreNotConfiguredError } from "./knowledge.errors";
import { KnowledgeService, type Placement, type TextEmbedder } from "./knowledge.service";
import { PineconeVectorStore, type PineconeTarget } from "./pinecone-store";
import { PostgresVectorStore } from "./postgres-store";
import type { VectorStore } from "./vector-store";

/** The bundled dev model server (`services/dev-model`), used while no OpenAI (or Google) key is set. */
export const DEV_MODEL_OPENAI_URL = "http://127.0.0.1:8089/v1";
export const DEV_MODEL_GOOGLE_URL = "http://127.0.0.1:8089";
export const DEV_MODEL_KEY = "galaxy-dev";
/** The dev model server's deterministic embedding model. */
export const DEV_EMBEDDING_MODEL = "galaxy-dev-embed";
/** OpenAI's embedding model: what a knowledge base made with a real OpenAI key uses unless `KNOWLEDGE_EMBEDDING_MODEL` says otherwise. */
export const OPENAI_EMBEDDING_MODEL = "text-embedding-3-small";
/** Gemini's embedding model: what a knowledge base made with a real Google key uses unless `KNOWLEDGE_GOOGLE_EMBEDDING_MODEL` says otherwise. */
export const GEMINI_EMBEDDING_MODEL = "gemini-embedding-001";
/** How long a document may stay `pending` before the sweep marks it failed, and how often the sweep runs. */
export const STALE_PENDING_AFTER_S = 3_600;
export const SWEEP_EVERY_MS = 5 * 60_000;
export const DEFAULT_PINECONE_INDEX = "galaxy";

/** How the registry embeds and where it keeps vectors (docs/operations.md environment). */
export interface KnowledgeSettings {
  /** `OPENAI_API_KEY` (else the dev model server's key). */
  openaiApiKey?: string | undefined;
  /** `OPENAI_BASE_URL`; else OpenAI itself when a key is set, else the dev model server. */
  openaiBaseUrl?: string | undefined;
  /**
   * `KNOWLEDGE_EMBEDDING_MODEL`, for every new knowledge base embedded by OpenAI. Unset:
   * `galaxy-dev-embed` (the dev model server's) for one embedded by the environment's endpoint,
   * `text-embedding-3-small` for one embedded with a workspace's own OpenAI key.
   */
  embeddingModel?: string | undefined;
  /** `GOOGLE_API_KEY` (else the dev model server's key), for knowledge bases embedded by Gemini. */
  googleApiKey?: string | undefined;
  /** `GOOGLE_BASE_URL`; else Google itself when a key is set, else the dev model server. */
  googleBaseUrl?: string | undefined;
  /**
   * `KNOWLEDGE_GOOGLE_EMBEDDING_MODEL`, for every new knowledge base embedded by Gemini. Unset:
   * `galaxy-dev-embed` by the environment's endpoint, `gemini-embedding-001` with a workspace's
   * own Google key.
   */
  googleEmbeddingModel?: string | undefined;
  /** `KNOWLEDGE_EMBEDDING_PROVIDER`: the provider of a new knowledge base whose creator names none (default `openai`). */
  embeddingProvider?: EmbeddingProvider | undefined;
  /** `PINECONE_API_KEY`: new knowledge bases go to Pinecone. A workspace's own Pinecone credential does too. */
  pineconeApiKey?: string | undefined;
  /** `PINECONE_INDEX` (default `galaxy`): the index, cosine metric, of the embedding model's dimension. */
  pineconeIndex?: string | undefined;
  /** `PINECONE_INDEX_HOST`: the index's data-plane URL, so no control-plane look-up is needed. */
  pineconeIndexHost?: string | undefined;
  /** `PINECONE_CONTROLLER_HOST`: Pinecone's control plane, when not `https://api.pinecone.io`. */
  pineconeControllerHost?: string | undefined;
  /** Retries of a failed provider call by its client (default 2). */
  maxRetries?: number | undefined;
  /**
   * The workspaces' own OpenAI and Pinecone keys. Default: asked of identity over the bus;
   * `false` uses the environment's for every workspace.
   */
  credentials?: WorkspaceCredentials | false | undefined;
  /** Replaces the embedder (tests of failure handling). */
  embedder?: TextEmbedder | undefined;
  /** `OUTBOUND_HOST_ALLOWLIST`: where a workspace's own OpenAI or Pinecone base URL may point. Absent: public hosts only. */
  outboundPolicy?: OutboundPolicy | undefined;
  /** Documents still pending this long are marked failed (default one hour). */
  stalePendingAfterS?: number | undefined;
  /** How often to look for them (default five minutes). */
  sweepEveryMs?: number | undefined;
}

export interface KnowledgeModule {
  service: KnowledgeService;
  /** Starts what must run in the background (credential invalidation, the sweep of stale pending documents). */
  listen(): void;
  /** Stops the sweep. */
  stop(): void;
}

/** Builds the knowledge service: embedder, both vector stores, and where new knowledge bases go. */
export function createKnowledge(deps: { db: Kysely<RegistryDb>; bus: Bus; relay: OutboxRelay; logger: Logger; settings: KnowledgeSettings }): KnowledgeModule {
  const { db, bus, relay, logger, settings } = deps;
  const busCredentials = settings.credentials === undefined ? new BusCredentials(bus) : null;
  const credentials: WorkspaceCredentials | undefined = busCredentials ?? (settings.credentials === false ? undefined : settings.credentials);

  const openaiBaseUrl = settings.openaiBaseUrl ?? (settings.openaiApiKey ? "https://api.openai.com/v1" : DEV_MODEL_OPENAI_URL);
  const outboundPolicy = settings.outboundPolicy ?? parseAllowlist("");
  const googleBaseUrl = settings.googleBaseUrl ?? (settings.googleApiKey ? "https://generativelanguage.googleapis.com" : DEV_MODEL_GOOGLE_URL);
  const embedder =
    settings.embedder ??
    new Embedder({
      apiKey: settings.openaiApiKey ?? DEV_MODEL_KEY,
      baseUrl: openaiBaseUrl,
      googleApiKey: settings.googleApiKey ?? DEV_MODEL_KEY,
      googleBaseUrl,
      maxRetries: settings.maxRetries,
      credentials,
      outboundPolicy,
    });
  const indexName = settings.pineconeIndex ?? DEFAULT_PINECONE_INDEX;
  // A workspace's own index host is reached only where the outbound policy allows.
  const guarded = guardedFetch(outboundPolicy);

  /** The workspace's Pinecone credential first, then the environment's; null when neither exists. */
  const pineconeTarget = async (workspaceId: string): Promise<PineconeTarget | null> => {
    const own = credentials ? await credentials.get(workspaceId, "pinecone") : null;
    if (own) {
      return { apiKey: own.apiKey, indexName, indexHost: own.baseUrl ?? undefined, controllerHostUrl: settings.pineconeControllerHost, ...(own.baseUrl ? { fetch: guarded } : {}) };
    }
    if (settings.pineconeApiKey) return { apiKey: settings.pineconeApiKey, indexName, indexHost: settings.pineconeIndexHost, controllerHostUrl: settings.pineconeControllerHost };
    return null;
  };

  const stores: Record<"postgres" | "pinecone", VectorStore> = {
    postgres: new PostgresVectorStore(db),
    pinecone: new PineconeVectorStore({
      maxRetries: settings.maxRetries,
      target: async (workspaceId) => {
        const target = await pineconeTarget(workspaceId);
        if (!target) throw new VectorStoreNotConfiguredError();
        return target;
      },
    }),
  };

  // A knowledge base is embedded, for its whole life, by the provider its creator chose (else the
  // operator's default) and the endpoint whose key was in use when it was created: the
  // workspace's own key for that provider (the provider's real model), else the environment's.
  const placement = async (workspaceId: string, requested: EmbeddingProvider | undefined): Promise<Placement> => {
    const provider = requested ?? settings.embeddingProvider ?? "openai";
    const own = credentials ? await credentials.get(workspaceId, provider) : null;
    const [configured, real] = provider === "google" ? [settings.googleEmbeddingModel, GEMINI_EMBEDDING_MODEL] : [settings.embeddingModel, OPENAI_EMBEDDING_MODEL];
    return {
      vectorStore: (await pineconeTarget(workspaceId)) ? "pinecone" : "postgres",
      embeddingProvider: provider,
      embeddingModel: configured ?? (own ? real : DEV_EMBEDDING_MODEL),
      embeddingSource: own ? "workspace" : "platform",
    };
  };

  const service = new KnowledgeService({
    db,
    relay,
    embedder,
    stores,
    placement,
    serviceClaim: (workspaceId) => bus.serviceClaims.get(workspaceId),
    logger: logger.child({ module: "knowledge" }),
    indexingAttempts: INDEXING_ATTEMPTS,
  });
  let sweep: NodeJS.Timeout | undefined;
  const sweepOnce = () => {
    service.failStalePending(settings.stalePendingAfterS ?? STALE_PENDING_AFTER_S).catch((error: unknown) => logger.warn({ err: error }, "the sweep of stale pending documents failed; trying again later"));
  };
  return {
    service,
    listen: () => {
      busCredentials?.listen();
      sweep ??= setInterval(sweepOnce, settings.sweepEveryMs ?? SWEEP_EVERY_MS);
      sweep.unref();
    },
    stop: () => {
      clearInterval(sweep);
      sweep = undefined;
    },
  };
}
