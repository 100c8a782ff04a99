import { createHash } from "node:crypto";
import type { Provider } from "@galaxy/contracts";
import { outboundRefusalIn } from "@galaxy/webhooks";
import { ModelCallError } from "../../errors";
import type { ToolCall } from "../messages";

/** What a model answered, in Galaxy's terms: its text, the tools it asked for, and what the call used. */
export interface ModelAnswer {
  text: string;
  /** Empty when the model answered without asking for a tool. */
  toolCalls: ToolCall[];
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  /** The model that answered, as the provider names it (a dated version of the one asked for), when it says. */
  model?: string | undefined;
}

/** Receives the text of a streamed answer as it arrives. */
export type OnDelta = (delta: string) => void;

/** The most tool calls one answer may ask for; more is a malformed answer. */
export const MAX_TOOL_CALLS_PER_ANSWER = 32;

export function tooManyToolCalls(): ModelCallError {
  return new ModelCallError("provider_error", `The model asked for more than ${MAX_TOOL_CALLS_PER_ANSWER} tool calls at once`);
}

/** What an execution's error keeps of a provider's message: its start, never a whole upstream body. */
export const MAX_PROVIDER_MESSAGE_CHARS = 300;

/**
 * An abort stays an abort (the caller knows why it aborted); a workspace base URL the outbound
 * policy refused says so; any other failure of the call is the provider's, its message cut
 * short (the base URL may point at any server, whose answer is not the user's to read whole).
 */
export function providerFailure(error: unknown, isAbort: (error: unknown) => boolean, message: (error: unknown) => string | null = defaultMessage): unknown {
  if (isAbort(error) || error instanceof ModelCallError) return error;
  const refused = outboundRefusalIn(error);
  if (refused) return new ModelCallError("provider_error", `The workspace's provider base URL is not allowed: ${refused.message}`, { cause: error });
  return new ModelCallError("provider_error", shortMessage(message(error) ?? "The model call failed"), { cause: error });
}

function defaultMessage(error: unknown): string | null {
  return error instanceof Error ? error.message : null;
}

/** What a log line says of a failure: its name, its code (`ECONNREFUSED`), its message cut short, and what caused it, a few levels down. */
export interface FailureDescription {
  name: string;
  code?: string;
  message: string;
  cause?: FailureDescription;
}

/** `error` for a log line: never a whole upstream body or a client's own fields, which may be large. */
export function describeFailure(error: unknown, depth = 3): FailureDescription {
  if (!(error instanceof Error)) return { name: typeof error, message: shortMessage(String(error)) };
  const code = (error as { code?: unknown }).code;
  return {
    name: error.name,
    ...(typeof code === "string" ? { code } : {}),
    message: shortMessage(error.message),
    ...(error.cause !== undefined && depth > 1 ? { cause: describeFailure(error.cause, depth - 1) } : {}),
  };
}

export function shortMessage(message: string): string {
  const oneLine = message.replace(/\s+/g, " ").trim();
  return oneLine.length > MAX_PROVIDER_MESSAGE_CHARS ? `${oneLine.slice(0, MAX_PROVIDER_MESSAGE_CHARS - 1)}…` : oneLine;
}

// Clients made for workspace credentials, kept so their connections are reused.
const MAX_WORKSPACE_CLIENTS = 1_000;

/** Clients for workspace credentials, keyed by a digest of provider, base URL and key: the key itself is no map key. */
export class ClientCache<C> {
  private readonly clients = new Map<string, C>();

  constructor(private readonly provider: Provider) {}

  get(baseUrl: string, apiKey: string, make: () => C): C {
    const key = createHash("sha256").update(`${this.provider}\n${baseUrl}\n${apiKey}`).digest("base64url");
    const hit = this.clients.get(key);
    if (hit) return hit;
    // A rotated key leaves its old client behind; past the bound, start over.
    if (this.clients.size >= MAX_WORKSPACE_CLIENTS) this.clients.clear();
    const client = make();
    this.clients.set(key, client);
    return client;
  }
}

/** A call's input as an object: the arguments parsed, or empty when they are not a JSON object (Anthropic and Gemini both want one). */
export function toolInput(args: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(args);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
