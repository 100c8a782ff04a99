import { randomUUID } from "node:crypto";
import type { GoogleGenAI, Content, Part } from "@google/genai";
import { z } from "zod";
import { loadOnFirstUse } from "@galaxy/runtime";
import type { FetchFunction } from "@galaxy/webhooks";
import { ModelCallError } from "../../errors";
import type { ModelRequest, ToolCall } from "../messages";
import { retryingFetch } from "./retry";
import { MAX_TOOL_CALLS_PER_ANSWER, providerFailure, tooManyToolCalls, toolInput, type ModelAnswer, type OnDelta } from "./shared";

/**
 * A Gemini client through `@google/genai`, on the Gemini Developer API (never Vertex AI, and
 * never what `GOOGLE_*` variables the SDK would read by itself). The SDK's own retries are
 * off: `retryingFetch` retries instead, honouring Gemini's `RetryInfo`, which the SDK ignores.
 */
export async function googleClient(apiKey: string, baseUrl: string, fetch: FetchFunction, maxRetries: number): Promise<GoogleGenAI> {
  const { GoogleGenAI: Client } = await loadGoogle();
  return new Client({ apiKey, vertexai: false, httpOptions: { baseUrl, fetch: retryingFetch(fetch, maxRetries) } });
}

type GoogleSdk = typeof import("@google/genai");
/** The SDK once loaded: every Gemini call has a client, so it is set by the time a call fails. */
let loaded: GoogleSdk | undefined;

/** Google's SDK, loaded when the first client is made (a worker that never calls Gemini does not carry it). */
const loadGoogle = loadOnFirstUse(() => import("@google/genai").then((module) => (loaded = module)));

// The parts of Gemini's stream the worker reads; parsed, not trusted, because the base URL may
// point at any server that claims to speak the protocol.
const Count = z.number().int().min(0).nullish();
const GeminiChunk = z.object({
  candidates: z
    .array(
      z.object({
        content: z
          .object({
            parts: z
              .array(
                z.object({
                  text: z.string().nullish(),
                  thought: z.boolean().nullish(),
                  thoughtSignature: z.string().nullish(),
                  functionCall: z.object({ id: z.string().nullish(), name: z.string().min(1), args: z.record(z.string(), z.unknown()).nullish() }).nullish(),
                }),
              )
              .nullish(),
          })
          .nullish(),
        finishReason: z.string().nullish(),
      }),
    )
    .nullish(),
  usageMetadata: z.object({ promptTokenCount: Count, toolUsePromptTokenCount: Count, candidatesTokenCount: Count, thoughtsTokenCount: Count }).nullish(),
  promptFeedback: z.object({ blockReason: z.string().nullish() }).nullish(),
  modelVersion: z.string().max(200).nullish(),
});

// Finishes that mean the model refused or was stopped, not that it answered.
const REFUSALS: ReadonlySet<string> = new Set(["SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "MALFORMED_FUNCTION_CALL", "IMAGE_SAFETY", "UNEXPECTED_TOOL_CALL"]);

/**
 * Gemini's thinking models sign their function calls (`thoughtSignature`) and want the
 * signature back with the call in the next round; Galaxy's tool calls carry no such field, so
 * the worker keeps each signature by call id while the execution's rounds go on. Bounded:
 * past the bound it starts over, and a call without its signature is sent without one.
 */
export class ThoughtSignatures {
  private readonly byCall = new Map<string, string>();

  constructor(private readonly max = 10_000) {}

  keep(callId: string, signature: string): void {
    if (this.byCall.size >= this.max) this.byCall.clear();
    this.byCall.set(callId, signature);
  }

  of(callId: string): string | undefined {
    return this.byCall.get(callId);
  }
}

/**
 * Calls a Gemini model, streamed (`streamGenerateContent?alt=sse`): text deltas go to
 * `onDelta` as they come, function calls arrive whole, the usage with the last chunk.
 */
export async function completeGoogle(request: ModelRequest, signal: AbortSignal, client: GoogleGenAI, onDelta: OnDelta, signatures: ThoughtSignatures): Promise<ModelAnswer> {
  let text = "";
  const calls: ToolCall[] = [];
  let usage: z.infer<typeof GeminiChunk>["usageMetadata"] = null;
  let model: string | undefined;
  let refusal: string | null = null;
  try {
    const stream = await client.models.generateContentStream({
      model: request.model,
      contents: geminiContents(request, signatures),
      config: {
        abortSignal: signal,
        ...(request.system ? { systemInstruction: request.system } : {}),
        ...(request.temperature !== null ? { temperature: request.temperature } : {}),
        ...(request.maxTokens !== null ? { maxOutputTokens: request.maxTokens } : {}),
        ...(request.tools.length > 0
          ? { tools: [{ functionDeclarations: request.tools.map((tool) => ({ name: tool.name, description: tool.description, parametersJsonSchema: tool.parameters })) }] }
          : {}),
      },
    });
    for await (const raw of stream) {
      const chunk = GeminiChunk.safeParse(raw);
      if (!chunk.success) throw new ModelCallError("provider_error", "The provider's stream was malformed", { cause: chunk.error });
      if (chunk.data.usageMetadata) usage = chunk.data.usageMetadata;
      if (chunk.data.modelVersion) model = chunk.data.modelVersion;
      if (chunk.data.promptFeedback?.blockReason) refusal = `The provider blocked the prompt (${chunk.data.promptFeedback.blockReason})`;
      for (const candidate of chunk.data.candidates?.slice(0, 1) ?? []) {
        if (candidate.finishReason && REFUSALS.has(candidate.finishReason)) refusal = `The model stopped without an answer (${candidate.finishReason})`;
        for (const part of candidate.content?.parts ?? []) {
          if (part.functionCall) {
            const id = part.functionCall.id || `call_${randomUUID()}`;
            calls.push({ id, name: part.functionCall.name, arguments: JSON.stringify(part.functionCall.args ?? {}) });
            if (part.thoughtSignature) signatures.keep(id, part.thoughtSignature);
            if (calls.length > MAX_TOOL_CALLS_PER_ANSWER) throw tooManyToolCalls();
          } else if (part.text && part.thought !== true) {
            text += part.text;
            onDelta(part.text);
          }
        }
      }
    }
  } catch (error) {
    // The SDK ends an aborted stream with the fetch's own AbortError: the signal says why.
    throw providerFailure(error, () => signal.aborted, geminiMessage);
  }
  if (refusal !== null && calls.length === 0 && text.length === 0) throw new ModelCallError("provider_error", refusal);
  const inputTokens = (usage?.promptTokenCount ?? 0) + (usage?.toolUsePromptTokenCount ?? 0);
  // Thinking is billed as output.
  const outputTokens = (usage?.candidatesTokenCount ?? 0) + (usage?.thoughtsTokenCount ?? 0);
  return { text, toolCalls: calls, inputTokens, outputTokens, totalTokens: inputTokens + outputTokens, model };
}

/** The conversation in Gemini's terms: the user, then per round the model's `functionCall` parts and a user turn of `functionResponse` parts. */
export function geminiContents(request: ModelRequest, signatures?: ThoughtSignatures): Content[] {
  const contents: Content[] = [{ role: "user", parts: [{ text: request.user }] }];
  for (const round of request.rounds) {
    const callParts = round.calls.map((call): Part => {
      const signature = signatures?.of(call.id);
      return { functionCall: { id: call.id, name: call.name, args: toolInput(call.arguments) }, ...(signature ? { thoughtSignature: signature } : {}) };
    });
    contents.push({ role: "model", parts: [...(round.text.length > 0 ? [{ text: round.text }] : []), ...callParts] });
    contents.push({
      role: "user",
      // Gemini's convention for a function's result: `output`, or `error` when it failed.
      parts: round.results.map((result) => ({ functionResponse: { id: result.callId, name: result.name, response: result.isError ? { error: result.content } : { output: result.content } } })),
    });
  }
  return contents;
}

const GoogleErrorBody = z.object({ error: z.object({ message: z.string() }) });

/** The SDK's `ApiError` carries Google's whole error body as its message; the `error.message` inside is what the provider said. */
function geminiMessage(error: unknown): string | null {
  if (!(error instanceof Error)) return null;
  if (loaded && error instanceof loaded.ApiError) {
    try {
      const parsed = GoogleErrorBody.safeParse(JSON.parse(error.message));
      if (parsed.success) return `${error.status}: ${parsed.data.error.message}`;
    } catch {
      // Not JSON: the message as it is.
    }
  }
  return error.message;
}
