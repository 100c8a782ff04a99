import type Anthropic from "@anthropic-ai/sdk";
import type { GoogleGenAI } from "@google/genai";
import type { Provider, ResolvedCredential } from "@galaxy/contracts";
import { guardedFetch, parseAllowlist, type FetchFunction, type OutboundPolicy } from "@galaxy/webhooks";
import { ModelCallError } from "../errors";
import type { ModelRequest } from "./messages";
import { completeAnthropic, DEFAULT_ANTHROPIC_MAX_TOKENS, loadAnthropic } from "./providers/anthropic";
import { completeGoogle, googleClient, ThoughtSignatures } from "./providers/google";
import { completeOpenAI } from "./providers/openai";
import type { OpenAIEndpoint } from "./providers/openai-stream";
import { ClientCache, type ModelAnswer, type OnDelta } from "./providers/shared";

export { MAX_PROVIDER_MESSAGE_CHARS } from "./providers/shared";
export type { ModelAnswer, OnDelta } from "./providers/shared";

/** Where the model providers are; each client is made once and shared by every execution. */
export interface ProviderSettings {
  openaiApiKey: string;
  openaiBaseUrl: string;
  /** Absent: executions of Anthropic agents fail with `provider_not_configured`. */
  anthropicApiKey?: string | undefined;
  anthropicBaseUrl?: string | undefined;
  /** Absent: executions of Google (Gemini) agents fail with `provider_not_configured`. */
  googleApiKey?: string | undefined;
  googleBaseUrl?: string | undefined;
  /**
   * Retries of a call that failed before its answer began (429, 5xx, connection), with
   * backoff, waiting what the provider asks when it says (default 2).
   */
  maxRetries?: number | undefined;
  /**
   * The workspace's own keys (they come first, then the environment's, then the dev model
   * server; see docs/pipeline.md). Absent: every workspace uses the environment's.
   */
  credentials?: WorkspaceCredentials | undefined;
  /**
   * `OUTBOUND_HOST_ALLOWLIST`: where a workspace's own base URL may point. Calls through one
   * are checked and pinned like webhook tools' (no loopback, private or metadata address
   * unless listed). The operator's base URLs are trusted as they are. Absent: public hosts only.
   */
  outboundPolicy?: OutboundPolicy | undefined;
}

/** Where the workspace's provider keys come from (`CredentialResolver`). */
export interface WorkspaceCredentials {
  /** The workspace's credential for a provider; null when it has none. */
  get(workspaceId: string, provider: Provider): Promise<ResolvedCredential | null>;
}

/** Where each provider is when a workspace's credential names no base URL. */
export const PROVIDER_BASE_URLS: Record<Provider, string> = {
  openai: "https://api.openai.com/v1",
  anthropic: "https://api.anthropic.com",
  google: "https://generativelanguage.googleapis.com",
};

/**
 * The longest answer an agent without `maxTokens` is taken to want, per provider: the
 * workspace's remaining budget caps an answer only when it is below this (or the agent's
 * own `maxTokens`), so a call never asks for more than a real model can write.
 */
export const DEFAULT_MAX_OUTPUT_TOKENS: Record<Provider, number> = { openai: 4_096, anthropic: DEFAULT_ANTHROPIC_MAX_TOKENS, google: 8_192 };

/**
 * Calls the agent's model (`providers/<provider>.ts`), streamed: OpenAI's chat completions
 * spoken directly over Node's http (`providers/openai-stream.ts`; docs/decisions/0032),
 * Anthropic and Gemini through their SDKs. A call that failed before its answer began (429,
 * 408, 409, 5xx, a timeout, a connection error) is tried again `maxRetries` times with
 * exponential backoff and jitter, waiting what the provider asks when it says: `retry-after`
 * (or `retry-after-ms`) for OpenAI and Anthropic; Gemini's `RetryInfo.retryDelay`, by
 * `providers/retry.ts`.
 */
export class ModelProviders {
  private readonly openai: OpenAIEndpoint;
  // Anthropic's and Google's clients (and SDKs) are made on first use: most workers call one provider.
  private anthropic: Promise<Anthropic> | undefined;
  private google: Promise<GoogleGenAI> | undefined;
  private readonly maxRetries: number;
  private readonly credentials: WorkspaceCredentials | undefined;
  private readonly workspaceOpenAI = new ClientCache<OpenAIEndpoint>("openai");
  private readonly workspaceAnthropic = new ClientCache<Promise<Anthropic>>("anthropic");
  private readonly workspaceGoogle = new ClientCache<Promise<GoogleGenAI>>("google");
  private readonly signatures = new ThoughtSignatures();
  // For a workspace's own base URL: every request checked against the outbound policy.
  private readonly outboundPolicy: OutboundPolicy;
  private readonly guarded: FetchFunction;

  constructor(private readonly settings: ProviderSettings) {
    const maxRetries = settings.maxRetries ?? 2;
    this.maxRetries = maxRetries;
    this.credentials = settings.credentials;
    this.outboundPolicy = settings.outboundPolicy ?? parseAllowlist("");
    this.guarded = guardedFetch(this.outboundPolicy);
    this.openai = { baseUrl: settings.openaiBaseUrl, apiKey: settings.openaiApiKey, maxRetries, policy: null };
  }

  /**
   * Asks the model with the workspace's own key when it has one, else the environment's,
   * streaming the answer's text to `onDelta`; throws `ModelCallError` with code
   * `provider_error` (carrying the provider's message) when the provider refuses or fails,
   * and rethrows an abort as is. Throws what the credential look-up threw when identity
   * cannot say whether the workspace has a key.
   */
  async complete(request: ModelRequest, signal: AbortSignal, workspaceId?: string, onDelta: OnDelta = () => {}): Promise<ModelAnswer> {
    const credential = workspaceId !== undefined && this.credentials ? await this.credentials.get(workspaceId, request.provider) : null;
    switch (request.provider) {
      case "openai":
        return completeOpenAI(request, signal, credential ? this.openaiFor(credential) : this.openai, onDelta);
      case "anthropic": {
        const client = credential ? this.anthropicFor(credential) : this.environmentAnthropic();
        return completeAnthropic(request, signal, client ? await client : null, onDelta);
      }
      case "google": {
        const client = credential ? this.googleFor(credential) : this.environmentGoogle();
        if (!client) throw new ModelCallError("provider_not_configured", "No Google (Gemini) endpoint is configured for this worker or workspace");
        return completeGoogle(request, signal, await client, onDelta, this.signatures);
      }
      default: {
        const exhaustive: never = request.provider;
        return exhaustive;
      }
    }
  }

  private openaiFor(credential: ResolvedCredential): OpenAIEndpoint {
    const baseUrl = credential.baseUrl ?? PROVIDER_BASE_URLS.openai;
    // A base URL the workspace chose is checked on every call; OpenAI's own is trusted.
    const policy = credential.baseUrl ? this.outboundPolicy : null;
    return this.workspaceOpenAI.get(baseUrl, credential.apiKey, () => ({ baseUrl, apiKey: credential.apiKey, maxRetries: this.maxRetries, policy }));
  }

  /** The environment's Anthropic client, made on first use; null when none is configured. */
  private environmentAnthropic(): Promise<Anthropic> | null {
    const { anthropicApiKey: apiKey, anthropicBaseUrl: baseURL } = this.settings;
    if (!apiKey || !baseURL) return null;
    this.anthropic ??= loadAnthropic().then(({ default: Sdk }) => new Sdk({ apiKey, baseURL, maxRetries: this.maxRetries }));
    return this.anthropic;
  }

  /** The environment's Gemini client, made on first use; null when none is configured. */
  private environmentGoogle(): Promise<GoogleGenAI> | null {
    const { googleApiKey: apiKey, googleBaseUrl: baseUrl } = this.settings;
    if (!apiKey || !baseUrl) return null;
    this.google ??= googleClient(apiKey, baseUrl, fetch, this.maxRetries);
    return this.google;
  }

  private anthropicFor(credential: ResolvedCredential): Promise<Anthropic> {
    const baseURL = credential.baseUrl ?? PROVIDER_BASE_URLS.anthropic;
    const fetch = credential.baseUrl ? { fetch: this.guarded } : {};
    return this.workspaceAnthropic.get(baseURL, credential.apiKey, () => loadAnthropic().then(({ default: Sdk }) => new Sdk({ apiKey: credential.apiKey, baseURL, maxRetries: this.maxRetries, ...fetch })));
  }

  private googleFor(credential: ResolvedCredential): Promise<GoogleGenAI> {
    const baseUrl = credential.baseUrl ?? PROVIDER_BASE_URLS.google;
    return this.workspaceGoogle.get(baseUrl, credential.apiKey, () => googleClient(credential.apiKey, baseUrl, credential.baseUrl ? this.guarded : fetch, this.maxRetries));
  }
}
