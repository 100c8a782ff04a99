import { createHash } from "node:crypto";
import OpenAI from "openai";
import { z } from "zod";
import { guardedFetch, outboundRefusalIn, parseAllowlist, type FetchFunction, type OutboundPolicy } from "@galaxy/webhooks";
import { EmbeddingCredentialMissingError, EmbeddingFailedError, EmbeddingUnavailableError } from "./knowledge.errors";
import type { EmbeddingProvider } from "@galaxy/contracts";
import type { EmbeddingSource } from "./knowledge.tables";
import type { WorkspaceCredentials } from "./credentials";
import { GeminiEmbeddings } from "./google-embeddings";

/** Where embeddings are made when a workspace has no credential of its own for the provider. */
export interface EmbedderSettings {
  /** `OPENAI_API_KEY`, or the dev model server's key. */
  apiKey: string;
  /** `OPENAI_BASE_URL`, `https://api.openai.com/v1` with a key, else the dev model server's `/v1`. */
  baseUrl: string;
  /** `GOOGLE_API_KEY` (else the dev model server's key), for knowledge bases embedded with Gemini. */
  googleApiKey: string;
  /** `GOOGLE_BASE_URL`, Google itself with a key, else the dev model server. */
  googleBaseUrl: string;
  /** Retries of a failed call (429, 5xx, connection) by the SDK (default 2). */
  maxRetries?: number | undefined;
  /** The workspace's own keys, for knowledge bases created with one. Absent: the environment's for all. */
  credentials?: WorkspaceCredentials | undefined;
  /**
   * `OUTBOUND_HOST_ALLOWLIST`: where a workspace's own base URL may point (checked and pinned
   * like webhook tools'). The environment's `baseUrl` is trusted as configured. Absent: public hosts only.
   */
  outboundPolicy?: OutboundPolicy | undefined;
}

/** How a knowledge base's texts are embedded: fixed when it is created. */
export interface EmbeddingSpec {
  provider: EmbeddingProvider;
  model: string;
  /** `platform`: the environment's endpoint; `workspace`: the workspace's own credential for the provider. */
  source: EmbeddingSource;
}

/** What an error message keeps of a provider's answer. */
const MAX_PROVIDER_MESSAGE_CHARS = 300;

/** Inputs per embeddings request: well under OpenAI's limits for chunks of ~800 characters. */
const BATCH = 64;
const MAX_CLIENTS = 1_000;
const OPENAI_BASE_URL = "https://api.openai.com/v1";

// The parts of the reply the registry reads; the base URL may point at any server.
const EmbeddingsReply = z.object({
  data: z.array(z.object({ index: z.number().int().min(0), embedding: z.array(z.number()).min(1) })),
});

/**
 * Embeds texts with the provider the knowledge base was created with: OpenAI through the
 * `openai` client, Google's Gemini through `@google/genai` (`GeminiEmbeddings`), from the
 * source it was created with: the workspace's own credential, or the environment's endpoint
 * (a real key, a proxy, or the dev model server). Always asks `encoding_format: "float"`. A provider that
 * refuses (a bad key, an unknown model, a base URL the outbound policy refuses) is
 * `EmbeddingFailedError`; one that cannot be reached is `EmbeddingUnavailableError`, which
 * callers may retry.
 */
export class Embedder {
  private readonly fallback: OpenAI;
  private readonly clients = new Map<string, OpenAI>();
  private readonly guarded: FetchFunction;
  private readonly gemini: GeminiEmbeddings;

  constructor(private readonly settings: EmbedderSettings) {
    this.fallback = new OpenAI({ apiKey: settings.apiKey, baseURL: settings.baseUrl, maxRetries: settings.maxRetries ?? 2 });
    this.guarded = guardedFetch(settings.outboundPolicy ?? parseAllowlist(""));
    this.gemini = new GeminiEmbeddings({
      apiKey: settings.googleApiKey,
      baseUrl: settings.googleBaseUrl,
      maxRetries: settings.maxRetries ?? 2,
      credentials: settings.credentials,
      guarded: this.guarded,
    });
  }

  /** One embedding per text, in order; `onBatch` is called after each request (a consumer's heartbeat). */
  async embed(workspaceId: string, spec: EmbeddingSpec, texts: readonly string[], onBatch?: () => void): Promise<number[][]> {
    if (texts.length === 0) return [];
    const embedBatch = await this.batcher(workspaceId, spec);
    const vectors: number[][] = [];
    for (let offset = 0; offset < texts.length; offset += BATCH) {
      vectors.push(...(await embedBatch(texts.slice(offset, offset + BATCH))));
      onBatch?.();
    }
    return vectors;
  }

  /** One request's worth of texts to their vectors, with the knowledge base's provider, model and source. */
  private async batcher(workspaceId: string, spec: EmbeddingSpec): Promise<(batch: string[]) => Promise<number[][]>> {
    switch (spec.provider) {
      case "openai": {
        const client = spec.source === "workspace" ? await this.workspaceClient(workspaceId) : this.fallback;
        return (batch) => this.embedBatch(client, spec.model, batch);
      }
      case "google": {
        const client = await this.gemini.clientFor(workspaceId, spec.source);
        return (batch) => this.gemini.embedBatch(client, spec.model, batch);
      }
      default: {
        const exhaustive: never = spec.provider;
        return exhaustive;
      }
    }
  }

  private async embedBatch(client: OpenAI, model: string, input: string[]): Promise<number[][]> {
    let reply: unknown;
    try {
      reply = await client.embeddings.create({ model, input, encoding_format: "float" });
    } catch (error) {
      const refused = outboundRefusalIn(error);
      if (refused) throw new EmbeddingFailedError(`The workspace's OpenAI base URL is not allowed: ${refused.message}`, { cause: error });
      if (error instanceof OpenAI.APIError && error.status !== undefined && error.status >= 400 && error.status < 500 && ![408, 409, 429].includes(error.status)) {
        throw new EmbeddingFailedError(`The embedding provider refused: ${short(error.message)}`, { cause: error });
      }
      throw new EmbeddingUnavailableError(error instanceof Error ? short(error.message) : "The embedding provider could not be reached", { cause: error });
    }
    const parsed = EmbeddingsReply.safeParse(reply);
    if (!parsed.success || parsed.data.data.length !== input.length) {
      throw new EmbeddingFailedError("The embedding provider's reply was malformed", { cause: parsed.success ? undefined : parsed.error });
    }
    const vectors = new Array<number[]>(input.length);
    for (const item of parsed.data.data) {
      if (item.index >= input.length) throw new EmbeddingFailedError("The embedding provider's reply was malformed");
      vectors[item.index] = item.embedding;
    }
    if (vectors.some((vector) => vector === undefined)) throw new EmbeddingFailedError("The embedding provider's reply was malformed");
    return vectors;
  }

  /** The client of the workspace's own OpenAI credential; a base URL it names is reached only through the outbound policy. */
  private async workspaceClient(workspaceId: string): Promise<OpenAI> {
    let credential;
    try {
      credential = this.settings.credentials ? await this.settings.credentials.get(workspaceId, "openai") : null;
    } catch (error) {
      // Never fall back to the platform's key for a knowledge base made with the workspace's own.
      throw new EmbeddingUnavailableError("Could not read the workspace's OpenAI credential", { cause: error });
    }
    if (!credential) throw new EmbeddingCredentialMissingError();
    const baseURL = credential.baseUrl ?? OPENAI_BASE_URL;
    const key = createHash("sha256").update(`${baseURL}\n${credential.apiKey}`).digest("base64url");
    const hit = this.clients.get(key);
    if (hit) return hit;
    if (this.clients.size >= MAX_CLIENTS) this.clients.clear();
    const client = new OpenAI({ apiKey: credential.apiKey, baseURL, maxRetries: this.settings.maxRetries ?? 2, ...(credential.baseUrl ? { fetch: this.guarded } : {}) });
    this.clients.set(key, client);
    return client;
  }
}

function short(message: string): string {
  const oneLine = message.replace(/\s+/g, " ").trim();
  return oneLine.length > MAX_PROVIDER_MESSAGE_CHARS ? `${oneLine.slice(0, MAX_PROVIDER_MESSAGE_CHARS - 1)}…` : oneLine;
}
