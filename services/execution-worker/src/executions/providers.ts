import { createHash } from "node:crypto";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { z } from "zod";
import type { Provider, ResolvedCredential } from "@galaxy/contracts";
import { guardedFetch, outboundRefusalIn, parseAllowlist, type FetchFunction, type OutboundPolicy } from "@galaxy/webhooks";
import { ModelCallError } from "../errors";
import type { ModelRequest, ToolCall } from "./messages";

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
  /**
   * `OUTBOUND_HOST_ALLOWLIST`: where a workspace's own base URL may point. Calls through one
   * are checked and pinned like webhook tools' (no loopback, private or metadata address
   * unless listed). The operator's `openaiBaseUrl`/`anthropicBaseUrl` are trusted as they are.
   * Absent: public hosts only.
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
};

// Clients made for workspace credentials, kept so their connections are reused.
const MAX_WORKSPACE_CLIENTS = 1_000;

/** What a model answered, in Galaxy's terms: its text, the tools it asked for, and what the call used. */
export interface ModelAnswer {
  text: string;
  /** Empty when the model answered without asking for a tool. */
  toolCalls: ToolCall[];
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
}

/** Receives the text of a streamed answer as it arrives. */
export type OnDelta = (delta: string) => void;

// The parts of each provider's stream the worker reads; parsed, not trusted, because the base
// URL may point at any server that claims to speak the protocol.
const OpenAIUsage = z.object({ prompt_tokens: z.number().int().min(0), completion_tokens: z.number().int().min(0), total_tokens: z.number().int().min(0) });

const OpenAIChunk = z.object({
  choices: z
    .array(
      z.object({
        delta: z
          .object({
            content: z.string().nullish(),
            tool_calls: z
              .array(
                z.object({
                  index: z.number().int().min(0).max(127),
                  id: z.string().nullish(),
                  function: z.object({ name: z.string().nullish(), arguments: z.string().nullish() }).nullish(),
                }),
              )
              .nullish(),
          })
          .nullish(),
      }),
    )
    .nullish(),
  usage: OpenAIUsage.nullish(),
});

const AnthropicEvent = z.discriminatedUnion("type", [
  z.object({ type: z.literal("message_start"), message: z.object({ usage: z.object({ input_tokens: z.number().int().min(0), output_tokens: z.number().int().min(0).nullish() }) }) }),
  z.object({
    type: z.literal("content_block_start"),
    index: z.number().int().min(0),
    content_block: z.object({ type: z.string(), id: z.string().optional(), name: z.string().optional(), text: z.string().optional() }),
  }),
  z.object({
    type: z.literal("content_block_delta"),
    index: z.number().int().min(0),
    delta: z.object({ type: z.string(), text: z.string().optional(), partial_json: z.string().optional() }),
  }),
  z.object({ type: z.literal("message_delta"), usage: z.object({ output_tokens: z.number().int().min(0), input_tokens: z.number().int().min(0).nullish() }) }),
  z.object({ type: z.literal("content_block_stop") }),
  z.object({ type: z.literal("message_stop") }),
  z.object({ type: z.literal("ping") }),
  z.object({ type: z.literal("error"), error: z.object({ message: z.string() }) }),
]);

/** Anthropic requires `max_tokens`; this is what an agent without `maxTokens` gets. */
export const DEFAULT_ANTHROPIC_MAX_TOKENS = 4_096;

/**
 * The longest answer an agent without `maxTokens` is taken to want, per provider: the
 * workspace's remaining budget caps an answer only when it is below this (or the agent's
 * own `maxTokens`), so a call never asks for more than a real model can write.
 */
export const DEFAULT_MAX_OUTPUT_TOKENS: Record<Provider, number> = { openai: 4_096, anthropic: DEFAULT_ANTHROPIC_MAX_TOKENS };

/** The most tool calls one answer may ask for; more is a malformed answer. */
const MAX_TOOL_CALLS_PER_ANSWER = 32;

/**
 * Calls the agent's model through the provider's own SDK, streamed. The SDK retries a call
 * that failed before its answer began (429, 408, 409, 5xx, a timeout, a connection error)
 * `maxRetries` times with exponential backoff and jitter, waiting what `retry-after` (or
 * `retry-after-ms`) asks when the provider says.
 */
export class ModelProviders {
  private readonly openai: OpenAI;
  private readonly anthropic: Anthropic | null;
  private readonly maxRetries: number;
  private readonly credentials: WorkspaceCredentials | undefined;
  // Keyed by a digest of provider, base URL and key: the key itself is no map key.
  private readonly workspaceOpenAI = new Map<string, OpenAI>();
  private readonly workspaceAnthropic = new Map<string, Anthropic>();
  // For a workspace's own base URL: every request checked against the outbound policy.
  private readonly guarded: FetchFunction;

  constructor(settings: ProviderSettings) {
    const maxRetries = settings.maxRetries ?? 2;
    this.maxRetries = maxRetries;
    this.credentials = settings.credentials;
    this.guarded = guardedFetch(settings.outboundPolicy ?? parseAllowlist(""));
    this.openai = new OpenAI({ apiKey: settings.openaiApiKey, baseURL: settings.openaiBaseUrl, maxRetries });
    this.anthropic =
      settings.anthropicApiKey && settings.anthropicBaseUrl
        ? new Anthropic({ apiKey: settings.anthropicApiKey, baseURL: settings.anthropicBaseUrl, maxRetries })
        : null;
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
        return this.completeOpenAI(request, signal, credential ? this.openaiFor(credential) : this.openai, onDelta);
      case "anthropic":
        return this.completeAnthropic(request, signal, credential ? this.anthropicFor(credential) : this.anthropic, onDelta);
      default: {
        const exhaustive: never = request.provider;
        return exhaustive;
      }
    }
  }

  private openaiFor(credential: ResolvedCredential): OpenAI {
    const baseURL = credential.baseUrl ?? PROVIDER_BASE_URLS.openai;
    const fetch = credential.baseUrl ? { fetch: this.guarded } : {};
    return cached(this.workspaceOpenAI, clientKey("openai", baseURL, credential.apiKey), () => new OpenAI({ apiKey: credential.apiKey, baseURL, maxRetries: this.maxRetries, ...fetch }));
  }

  private anthropicFor(credential: ResolvedCredential): Anthropic {
    const baseURL = credential.baseUrl ?? PROVIDER_BASE_URLS.anthropic;
    const fetch = credential.baseUrl ? { fetch: this.guarded } : {};
    return cached(this.workspaceAnthropic, clientKey("anthropic", baseURL, credential.apiKey), () => new Anthropic({ apiKey: credential.apiKey, baseURL, maxRetries: this.maxRetries, ...fetch }));
  }

  private async completeOpenAI(request: ModelRequest, signal: AbortSignal, client: OpenAI, onDelta: OnDelta): Promise<ModelAnswer> {
    let text = "";
    const calls = new Map<number, { id: string; name: string; arguments: string }>();
    let usage: z.infer<typeof OpenAIUsage> | null = null;
    try {
      const stream = await client.chat.completions.create(
        {
          model: request.model,
          messages: openAIMessages(request),
          ...(request.tools.length > 0
            ? { tools: request.tools.map((tool) => ({ type: "function" as const, function: { name: tool.name, description: tool.description, parameters: tool.parameters } })) }
            : {}),
          ...(request.temperature !== null ? { temperature: request.temperature } : {}),
          ...(request.maxTokens !== null ? { max_tokens: request.maxTokens } : {}),
          stream: true,
          stream_options: { include_usage: true },
        },
        { signal },
      );
      for await (const raw of stream) {
        const chunk = OpenAIChunk.safeParse(raw);
        if (!chunk.success) throw new ModelCallError("provider_error", "The provider's stream was malformed", { cause: chunk.error });
        if (chunk.data.usage) usage = chunk.data.usage;
        for (const choice of chunk.data.choices ?? []) {
          const delta = choice.delta;
          if (!delta) continue;
          if (delta.content) {
            text += delta.content;
            onDelta(delta.content);
          }
          for (const part of delta.tool_calls ?? []) {
            const call = calls.get(part.index) ?? { id: "", name: "", arguments: "" };
            if (part.id) call.id = part.id;
            if (part.function?.name) call.name += part.function.name;
            if (part.function?.arguments) call.arguments += part.function.arguments;
            calls.set(part.index, call);
            if (calls.size > MAX_TOOL_CALLS_PER_ANSWER) throw new ModelCallError("provider_error", `The model asked for more than ${MAX_TOOL_CALLS_PER_ANSWER} tool calls at once`);
          }
        }
      }
    } catch (error) {
      throw providerFailure(error, OpenAI.APIUserAbortError, OpenAI.APIError);
    }
    const toolCalls = [...calls.entries()].sort(([a], [b]) => a - b).map(([index, call]) => ({ id: call.id || `call_${index}`, name: call.name, arguments: call.arguments }));
    const inputTokens = usage?.prompt_tokens ?? 0;
    const outputTokens = usage?.completion_tokens ?? 0;
    return { text, toolCalls, inputTokens, outputTokens, totalTokens: usage?.total_tokens ?? inputTokens + outputTokens };
  }

  private async completeAnthropic(request: ModelRequest, signal: AbortSignal, client: Anthropic | null, onDelta: OnDelta): Promise<ModelAnswer> {
    if (!client) throw new ModelCallError("provider_not_configured", "No Anthropic endpoint is configured for this worker or workspace");
    let text = "";
    const calls = new Map<number, { id: string; name: string; arguments: string }>();
    let inputTokens = 0;
    let outputTokens = 0;
    try {
      const stream = await client.messages.create(
        {
          model: request.model,
          max_tokens: request.maxTokens ?? DEFAULT_ANTHROPIC_MAX_TOKENS,
          ...(request.system ? { system: request.system } : {}),
          messages: anthropicMessages(request),
          ...(request.tools.length > 0
            ? { tools: request.tools.map((tool) => ({ name: tool.name, description: tool.description, input_schema: { ...tool.parameters, type: "object" as const } })) }
            : {}),
          // Anthropic's temperature runs 0–1 where an agent's runs 0–2 (OpenAI's range).
          ...(request.temperature !== null ? { temperature: Math.min(request.temperature, 1) } : {}),
          stream: true,
        },
        { signal },
      );
      for await (const raw of stream) {
        const parsed = AnthropicEvent.safeParse(raw);
        // Event types this worker does not know (a newer API) are skipped; known ones must parse.
        if (!parsed.success) {
          if (typeof raw === "object" && raw !== null && "type" in raw && isKnownAnthropicEvent(raw.type)) {
            throw new ModelCallError("provider_error", "The provider's stream was malformed", { cause: parsed.error });
          }
          continue;
        }
        const event = parsed.data;
        switch (event.type) {
          case "message_start":
            inputTokens = event.message.usage.input_tokens;
            outputTokens = event.message.usage.output_tokens ?? 0;
            break;
          case "content_block_start":
            if (event.content_block.type === "tool_use") {
              calls.set(event.index, { id: event.content_block.id ?? `toolu_${event.index}`, name: event.content_block.name ?? "", arguments: "" });
              if (calls.size > MAX_TOOL_CALLS_PER_ANSWER) throw new ModelCallError("provider_error", `The model asked for more than ${MAX_TOOL_CALLS_PER_ANSWER} tool calls at once`);
            } else if (event.content_block.type === "text" && event.content_block.text) {
              text += event.content_block.text;
              onDelta(event.content_block.text);
            }
            break;
          case "content_block_delta":
            if (event.delta.type === "text_delta" && event.delta.text) {
              text += event.delta.text;
              onDelta(event.delta.text);
            } else if (event.delta.type === "input_json_delta" && event.delta.partial_json !== undefined) {
              const call = calls.get(event.index);
              if (call) call.arguments += event.delta.partial_json;
            }
            break;
          case "message_delta":
            // Cumulative counts: the last one is the answer's.
            outputTokens = event.usage.output_tokens;
            if (event.usage.input_tokens !== null && event.usage.input_tokens !== undefined) inputTokens = event.usage.input_tokens;
            break;
          case "error":
            throw new ModelCallError("provider_error", event.error.message);
          default:
            break;
        }
      }
    } catch (error) {
      throw providerFailure(error, Anthropic.APIUserAbortError, Anthropic.APIError);
    }
    // A tool_use block with no input deltas has an empty object as input.
    const toolCalls = [...calls.entries()].sort(([a], [b]) => a - b).map(([, call]) => ({ ...call, arguments: call.arguments === "" ? "{}" : call.arguments }));
    return { text, toolCalls, inputTokens, outputTokens, totalTokens: inputTokens + outputTokens };
  }
}

function isKnownAnthropicEvent(type: unknown): boolean {
  return typeof type === "string" && ["message_start", "content_block_start", "content_block_delta", "message_delta", "content_block_stop", "message_stop", "ping", "error"].includes(type);
}

type OpenAIMessage = OpenAI.Chat.Completions.ChatCompletionMessageParam;

/** The conversation in OpenAI's terms: system, user, then per round the assistant's calls and one `tool` message per result. */
export function openAIMessages(request: ModelRequest): OpenAIMessage[] {
  const messages: OpenAIMessage[] = [
    { role: "system", content: request.system },
    { role: "user", content: request.user },
  ];
  for (const round of request.rounds) {
    messages.push({
      role: "assistant",
      content: round.text.length > 0 ? round.text : null,
      tool_calls: round.calls.map((call) => ({ id: call.id, type: "function" as const, function: { name: call.name, arguments: call.arguments } })),
    });
    for (const result of round.results) messages.push({ role: "tool", tool_call_id: result.callId, content: result.content });
  }
  return messages;
}

type AnthropicMessage = Anthropic.MessageParam;

/** The conversation in Anthropic's terms: the user, then per round the assistant's `tool_use` blocks and a user turn of `tool_result` blocks. */
export function anthropicMessages(request: ModelRequest): AnthropicMessage[] {
  const messages: AnthropicMessage[] = [{ role: "user", content: request.user }];
  for (const round of request.rounds) {
    messages.push({
      role: "assistant",
      content: [
        ...(round.text.length > 0 ? [{ type: "text" as const, text: round.text }] : []),
        ...round.calls.map((call) => ({ type: "tool_use" as const, id: call.id, name: call.name, input: toolInput(call.arguments) })),
      ],
    });
    messages.push({
      role: "user",
      content: round.results.map((result) => ({ type: "tool_result" as const, tool_use_id: result.callId, content: result.content, ...(result.isError ? { is_error: true } : {}) })),
    });
  }
  return messages;
}

/** Anthropic wants a call's input as an object: the arguments parsed, or empty when they are not a JSON object. */
function toolInput(args: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(args);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
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

/** What an execution's error keeps of a provider's message: its start, never a whole upstream body. */
export const MAX_PROVIDER_MESSAGE_CHARS = 300;

/**
 * An abort stays an abort (the caller knows why it aborted); a workspace base URL the outbound
 * policy refused says so; any other failure of the call is the provider's, its message cut
 * short (the base URL may point at any server, whose answer is not the user's to read whole).
 */
function providerFailure(error: unknown, AbortError: new (...args: never[]) => Error, ApiError: new (...args: never[]) => Error): unknown {
  if (error instanceof AbortError || error instanceof ModelCallError) return error;
  const refused = outboundRefusalIn(error);
  if (refused) return new ModelCallError("provider_error", `The workspace's provider base URL is not allowed: ${refused.message}`, { cause: error });
  if (error instanceof ApiError) return new ModelCallError("provider_error", shortMessage(error.message), { cause: error });
  return new ModelCallError("provider_error", error instanceof Error ? shortMessage(error.message) : "The model call failed", { cause: error });
}

function shortMessage(message: string): string {
  const oneLine = message.replace(/\s+/g, " ").trim();
  return oneLine.length > MAX_PROVIDER_MESSAGE_CHARS ? `${oneLine.slice(0, MAX_PROVIDER_MESSAGE_CHARS - 1)}…` : oneLine;
}
