import type OpenAI from "openai";
import { z } from "zod";
import { ModelCallError } from "../../errors";
import type { ModelRequest } from "../messages";
import { chatCompletionStream, type OpenAIEndpoint } from "./openai-stream";
import { MAX_TOOL_CALLS_PER_ANSWER, providerFailure, tooManyToolCalls, type ModelAnswer, type OnDelta } from "./shared";

// The parts of OpenAI's stream the worker reads; parsed, not trusted, because the base URL may
// point at any server that claims to speak the protocol.
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
  model: z.string().max(200).nullish(),
});

/** The request of a streamed chat completion, typed by the SDK's own declarations. */
type ChatCompletionRequest = OpenAI.Chat.Completions.ChatCompletionCreateParamsStreaming;

/** Calls an OpenAI chat model, streamed, with usage reported in the last chunk. */
export async function completeOpenAI(request: ModelRequest, signal: AbortSignal, endpoint: OpenAIEndpoint, onDelta: OnDelta): Promise<ModelAnswer> {
  let text = "";
  const calls = new Map<number, { id: string; name: string; arguments: string }>();
  let usage: z.infer<typeof OpenAIUsage> | null = null;
  let model: string | undefined;
  try {
    const body: ChatCompletionRequest = {
      model: request.model,
      messages: openAIMessages(request),
      ...(request.tools.length > 0
        ? { tools: request.tools.map((tool) => ({ type: "function" as const, function: { name: tool.name, description: tool.description, parameters: tool.parameters } })) }
        : {}),
      ...(request.temperature !== null ? { temperature: request.temperature } : {}),
      ...(request.maxTokens !== null ? { max_tokens: request.maxTokens } : {}),
      stream: true,
      stream_options: { include_usage: true },
    };
    for await (const raw of chatCompletionStream(endpoint, body, signal)) {
      const chunk = OpenAIChunk.safeParse(raw);
      if (!chunk.success) throw new ModelCallError("provider_error", "The provider's stream was malformed", { cause: chunk.error });
      if (chunk.data.usage) usage = chunk.data.usage;
      if (chunk.data.model) model = chunk.data.model;
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
          if (calls.size > MAX_TOOL_CALLS_PER_ANSWER) throw tooManyToolCalls();
        }
      }
    }
  } catch (error) {
    throw providerFailure(error, () => signal.aborted);
  }
  const toolCalls = [...calls.entries()].sort(([a], [b]) => a - b).map(([index, call]) => ({ id: call.id || `call_${index}`, name: call.name, arguments: call.arguments }));
  const inputTokens = usage?.prompt_tokens ?? 0;
  const outputTokens = usage?.completion_tokens ?? 0;
  return { text, toolCalls, inputTokens, outputTokens, totalTokens: usage?.total_tokens ?? inputTokens + outputTokens, model };
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
