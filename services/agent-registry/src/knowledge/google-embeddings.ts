import type { GoogleGenAI } from "@google/genai";
import { z } from "zod";
import { loadOnFirstUse } from "@galaxy/runtime";
import { outboundRefusalIn, type FetchFunction } from "@galaxy/webhooks";
import type { WorkspaceCredentials } from "./credentials";
import { EmbeddingCredentialMissingError, EmbeddingFailedError, EmbeddingUnavailableError } from "./knowledge.errors";

/** Where Gemini embeddings are made for a knowledge base embedded by the environment's endpoint. */
export interface GeminiEmbeddingSettings {
  /** `GOOGLE_API_KEY`, or the dev model server's key. */
  apiKey: string;
  /** `GOOGLE_BASE_URL`, Google itself with a key, else the dev model server. */
  baseUrl: string;
  maxRetries: number;
  credentials?: WorkspaceCredentials | undefined;
  /** For a workspace's own base URL: checked against the outbound policy. */
  guarded: FetchFunction;
}

/** The SDK, loaded on first use: a registry that never embeds with Gemini never holds it in memory. */
const loadGoogle = loadOnFirstUse(() => import("@google/genai"));

const GOOGLE_BASE_URL = "https://generativelanguage.googleapis.com";
const MAX_CLIENTS = 1_000;
const MAX_PROVIDER_MESSAGE_CHARS = 300;

// The part of `batchEmbedContents`' reply the registry reads; the base URL may point at any server.
const EmbedReply = z.object({ embeddings: z.array(z.object({ values: z.array(z.number()).min(1) })) });
const GoogleErrorBody = z.object({ error: z.object({ message: z.string() }) });

/**
 * Gemini embeddings through `@google/genai` (`embedContent`, which the Gemini API serves as
 * `batchEmbedContents`): from the environment's endpoint or the workspace's own Google key.
 * The SDK retries 408, 429 and 5xx itself; a refusal is `EmbeddingFailedError`, an outage
 * `EmbeddingUnavailableError` (the document's indexing is tried again).
 */
export class GeminiEmbeddings {
  private platform: Promise<GoogleGenAI> | undefined;
  private readonly clients = new Map<string, Promise<GoogleGenAI>>();

  constructor(private readonly settings: GeminiEmbeddingSettings) {}

  /** The client a knowledge base's source names: the environment's, or the workspace's own key. */
  async clientFor(workspaceId: string, source: "platform" | "workspace"): Promise<GoogleGenAI> {
    if (source === "platform") return (this.platform ??= this.client(this.settings.apiKey, this.settings.baseUrl, undefined));
    let credential;
    try {
      credential = this.settings.credentials ? await this.settings.credentials.get(workspaceId, "google") : null;
    } catch (error) {
      // Never fall back to the platform's key for a knowledge base made with the workspace's own.
      throw new EmbeddingUnavailableError("Could not read the workspace's Google credential", { cause: error });
    }
    if (!credential) throw new EmbeddingCredentialMissingError("google");
    const baseUrl = credential.baseUrl ?? GOOGLE_BASE_URL;
    const key = `${baseUrl}\n${credential.apiKey}`;
    const hit = this.clients.get(key);
    if (hit) return hit;
    if (this.clients.size >= MAX_CLIENTS) this.clients.clear();
    const client = this.client(credential.apiKey, baseUrl, credential.baseUrl ? this.settings.guarded : undefined);
    this.clients.set(key, client);
    return client;
  }

  /** One vector per text, in order. */
  async embedBatch(client: GoogleGenAI, model: string, texts: string[]): Promise<number[][]> {
    let reply: unknown;
    try {
      reply = await client.models.embedContent({ model, contents: texts });
    } catch (error) {
      const refused = outboundRefusalIn(error);
      if (refused) throw new EmbeddingFailedError(`The workspace's Google base URL is not allowed: ${refused.message}`, { cause: error });
      const { ApiError } = await loadGoogle();
      if (error instanceof ApiError && error.status >= 400 && error.status < 500 && ![408, 409, 429].includes(error.status)) {
        throw new EmbeddingFailedError(`The embedding provider refused: ${short(providerMessage(error))}`, { cause: error });
      }
      throw new EmbeddingUnavailableError(error instanceof Error ? short(providerMessage(error)) : "The embedding provider could not be reached", { cause: error });
    }
    const parsed = EmbedReply.safeParse(reply);
    if (!parsed.success || parsed.data.embeddings.length !== texts.length) {
      throw new EmbeddingFailedError("The embedding provider's reply was malformed", { cause: parsed.success ? undefined : parsed.error });
    }
    return parsed.data.embeddings.map((embedding) => embedding.values);
  }

  // Never Vertex AI, and never what `GOOGLE_*` variables the SDK would read by itself.
  private async client(apiKey: string, baseUrl: string, fetch: FetchFunction | undefined): Promise<GoogleGenAI> {
    const attempts = this.settings.maxRetries + 1;
    const { GoogleGenAI } = await loadGoogle();
    return new GoogleGenAI({
      apiKey,
      vertexai: false,
      httpOptions: { baseUrl, retryOptions: { attempts, initialDelay: 0.5, maxDelay: 8 }, ...(fetch ? { fetch } : {}) },
    });
  }
}

/** The SDK's `ApiError` carries Google's whole error body as its message; the `error.message` inside is what the provider said. */
function providerMessage(error: Error): string {
  try {
    const parsed = GoogleErrorBody.safeParse(JSON.parse(error.message));
    if (parsed.success) return parsed.data.error.message;
  } catch {
    // Not JSON: the message as it is.
  }
  return error.message;
}

function short(message: string): string {
  const oneLine = message.replace(/\s+/g, " ").trim();
  return oneLine.length > MAX_PROVIDER_MESSAGE_CHARS ? `${oneLine.slice(0, MAX_PROVIDER_MESSAGE_CHARS - 1)}…` : oneLine;
}
