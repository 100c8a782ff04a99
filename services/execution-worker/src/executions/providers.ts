import { createHash } from "node:crypto";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { z } from "zod";
import type { Provider, ResolvedCredential } from "@galaxy/contracts";
import { ModelCallError } from "../errors";
import type { ModelRequest } from "./messages";

/** Where the model providers are; each client is made once and shared by every execution. */
export interface ProviderSettings {
  openaiApiKey: string;
  openaiBaseUrl: string;
  /** Absent: executions of Anthropic agents fail with `provider_not_configured`. */
  anthropicApiKey?: string | undefined;
  anthropicBaseUrl?: string | undefined;
  /** Retries of a failed call (429, 5xx, connection) by the SDK, with its backoff (default 2). */
  maxRetries?: number | undefined;
  /**
   * The workspace's own keys (CONTRACT §5: they come first, then the environment's, then the
   * dev model server). Absent: every workspace uses the environment's.
   */
  credentials?: WorkspaceCredentials | undefined;
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
};

// Clients made for workspace credentials, kept so their connections are reused.
const MAX_WORKSPACE_CLIENTS = 1_000;

/** What a model answered, in Galaxy's terms. */
export interface ModelAnswer {
  text: string;
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
}

// The parts of each provider's reply the worker reads; parsed, not trusted, because the base
// URL may point at any server that claims to speak the protocol.
const OpenAIReply = z.object({
  choices: z.array(z.object({ message: z.object({ content: z.string().nullable() }) })).min(1),
  usage: z.object({ prompt_tokens: z.number().int().min(0), completion_tokens: z.number().int().min(0), total_tokens: z.number().int().min(0) }).nullish(),
});

const AnthropicReply = z.object({
  content: z.array(z.object({ type: z.string(), text: z.string().optional() })),
  usage: z.object({ input_tokens: z.number().int().min(0), output_tokens: z.number().int().min(0) }),
});

/** Anthropic requires `max_tokens`; this is what an agent without `maxTokens` gets. */
export const DEFAULT_ANTHROPIC_MAX_TOKENS = 4_096;

/** Calls the agent's model through the provider's own SDK. */
export class ModelProviders {
  private readonly openai: OpenAI;
  private readonly anthropic: Anthropic | null;
  private readonly maxRetries: number;
  private readonly credentials: WorkspaceCredentials | undefined;
  // Keyed by a digest of provider, base URL and key: the key itself is no map key.
  private readonly workspaceOpenAI = new Map<string, OpenAI>();
  private readonly workspaceAnthropic = new Map<string, Anthropic>();

  constructor(settings: ProviderSettings) {
    const maxRetries = settings.maxRetries ?? 2;
    this.maxRetries = maxRetries;
    this.credentials = settings.credentials;
    this.openai = new OpenAI({ apiKey: settings.openaiApiKey, baseURL: settings.openaiBaseUrl, maxRetries });
    this.anthropic =
      settings.anthropicApiKey && settings.anthropicBaseUrl
        ? new Anthropic({ apiKey: settings.anthropicApiKey, baseURL: settings.anthropicBaseUrl, maxRetries })
        : null;
  }

  /**
   * Asks the model with the workspace's own key when it has one, else the environment's;
   * throws `ModelCallError` with code `provider_error` (carrying the provider's message) when
   * the provider refuses or fails, and rethrows an abort as is. Throws what the credential
   * look-up threw when identity cannot say whether the workspace has a key.
   */
  async complete(request: ModelRequest, signal: AbortSignal, workspaceId?: string): Promise<ModelAnswer> {
    const credential = workspaceId !== undefined && this.credentials ? await this.credentials.get(workspaceId, request.provider) : null;
    switch (request.provider) {
      case "openai":
        return this.completeOpenAI(request, signal, credential ? this.openaiFor(credential) : this.openai);
      case "anthropic":
        return this.completeAnthropic(request, signal, credential ? this.anthropicFor(credential) : this.anthropic);
      default: {
        const exhaustive: never = request.provider;
        return exhaustive;
      }
    }
  }

  private openaiFor(credential: ResolvedCredential): OpenAI {
    const baseURL = credential.baseUrl ?? PROVIDER_BASE_URLS.openai;
    return cached(this.workspaceOpenAI, clientKey("openai", baseURL, credential.apiKey), () => new OpenAI({ apiKey: credential.apiKey, baseURL, maxRetries: this.maxRetries }));
  }

  private anthropicFor(credential: ResolvedCredential): Anthropic {
    const baseURL = credential.baseUrl ?? PROVIDER_BASE_URLS.anthropic;
    return cached(this.workspaceAnthropic, clientKey("anthropic", baseURL, credential.apiKey), () => new Anthropic({ apiKey: credential.apiKey, baseURL, maxRetries: this.maxRetries }));
  }

  private async completeOpenAI(request: ModelRequest, signal: AbortSignal, client: OpenAI): Promise<ModelAnswer> {
    let reply: unknown;
    try {
      reply = await client.chat.completions.create(
        {
          model: request.model,
          messages: [
            { role: "system", content: request.system },
            { role: "user", content: request.user },
          ],
          ...(request.temperature !== null ? { temperature: request.temperature } : {}),
          ...(request.maxTokens !== null ? { max_tokens: request.maxTokens } : {}),
        },
        { signal },
      );
    } catch (error) {
      throw providerFailure(error, OpenAI.APIUserAbortError, OpenAI.APIError);
    }
    const parsed = OpenAIReply.safeParse(reply);
    if (!parsed.success) throw new ModelCallError("provider_error", "The provider's reply was malformed", { cause: parsed.error });
    const { choices, usage } = parsed.data;
    const inputTokens = usage?.prompt_tokens ?? 0;
    const outputTokens = usage?.completion_tokens ?? 0;
    return { text: choices[0]?.message.content ?? "", inputTokens, outputTokens, totalTokens: usage?.total_tokens ?? inputTokens + outputTokens };
  }

  private async completeAnthropic(request: ModelRequest, signal: AbortSignal, client: Anthropic | null): Promise<ModelAnswer> {
    if (!client) throw new ModelCallError("provider_not_configured", "No Anthropic endpoint is configured for this worker or workspace");
    let reply: unknown;
    try {
      reply = await client.messages.create(
        {
          model: request.model,
          max_tokens: request.maxTokens ?? DEFAULT_ANTHROPIC_MAX_TOKENS,
          ...(request.system ? { system: request.system } : {}),
          messages: [{ role: "user", content: request.user }],
          // Anthropic's temperature runs 0–1 where an agent's runs 0–2 (OpenAI's range).
          ...(request.temperature !== null ? { temperature: Math.min(request.temperature, 1) } : {}),
        },
        { signal },
      );
    } catch (error) {
      throw providerFailure(error, Anthropic.APIUserAbortError, Anthropic.APIError);
    }
    const parsed = AnthropicReply.safeParse(reply);
    if (!parsed.success) throw new ModelCallError("provider_error", "The provider's reply was malformed", { cause: parsed.error });
    const { content, usage } = parsed.data;
    const text = content.flatMap((block) => (block.type === "text" && block.text !== undefined ? [block.text] : [])).join("");
    return { text, inputTokens: usage.input_tokens, outputTokens: usage.output_tokens, totalTokens: usage.input_tokens + usage.output_tokens };
  }
}

function clientKey(provider: Provider, baseUrl: string, apiKey: string): string {
  return createHash("sha256").update(`${provider}\n${baseUrl}\n${apiKey}`).digest("base64url");
}

function cached<C>(clients: Map<string, C>, key: string, make: () => C): C {
  const hit = clients.get(key);
  if (hit) return hit;
  // A rotated key leaves its old client behind; past the bound, start over.
  if (clients.size >= MAX_WORKSPACE_CLIENTS) clients.clear();
  const client = make();
  clients.set(key, client);
  return client;
}

/** An abort stays an abort (the caller knows why it aborted); any other failure of the call is the provider's. */
function providerFailure(error: unknown, AbortError: new (...args: never[]) => Error, ApiError: new (...args: never[]) => Error): unknown {
  if (error instanceof AbortError) return error;
  if (error instanceof ApiError) return new ModelCallError("provider_error", error.message, { cause: error });
  return new ModelCallError("provider_error", error instanceof Error ? error.message : "The model call failed", { cause: error });
}
