import type Anthropic from "@anthropic-ai/sdk";
import { z } from "zod";
import { loadOnFirstUse } from "@galaxy/runtime";
import { ModelCallError } from "../../errors";
import type { ModelRequest } from "../messages";
import { MAX_TOOL_CALLS_PER_ANSWER, providerFailure, tooManyToolCalls, toolInput, type ModelAnswer, type OnDelta } from "./shared";

/**
 * Anthropic's SDK, loaded when the first client is made: a worker whose agents never call
 * Anthropic does not carry its modules (docs/benchmarks.md, "Read path, replay and memory").
 */
export const loadAnthropic = loadOnFirstUse(() => import("@anthropic-ai/sdk"));

// The parts of Anthropic's stream the worker reads; parsed, not trusted, because the base URL
// may point at any server that claims to speak the protocol.
const AnthropicEvent = z.discriminatedUnion("type", [
  z.object({ type: z.literal("message_start"), message: z.object({ model: z.string().max(200).nullish(), usage: z.object({ input_tokens: z.number().int().min(0), output_tokens: z.number().int().min(0).nullish() }) }) }),
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

const KNOWN_EVENTS: ReadonlySet<unknown> = new Set(["message_start", "content_block_start", "content_block_delta", "message_delta", "content_block_stop", "message_stop", "ping", "error"]);

/** Anthropic requires `max_tokens`; this is what an agent without `maxTokens` gets. */
export const DEFAULT_ANTHROPIC_MAX_TOKENS = 4_096;

/** Calls an Anthropic model, streamed; a null client means no Anthropic endpoint is configured. */
export async function completeAnthropic(request: ModelRequest, signal: AbortSignal, client: Anthropic | null, onDelta: OnDelta): Promise<ModelAnswer> {
  if (!client) throw new ModelCallError("provider_not_configured", "No Anthropic endpoint is configured for this worker or workspace");
  let text = "";
  const calls = new Map<number, { id: string; name: string; arguments: string }>();
  let inputTokens = 0;
  let model: string | undefined;
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
        if (typeof raw === "object" && raw !== null && "type" in raw && KNOWN_EVENTS.has(raw.type)) {
          throw new ModelCallError("provider_error", "The provider's stream was malformed", { cause: parsed.error });
        }
        continue;
      }
      const event = parsed.data;
      switch (event.type) {
        case "message_start":
          inputTokens = event.message.usage.input_tokens;
          model = event.message.model ?? undefined;
          outputTokens = event.message.usage.output_tokens ?? 0;
          break;
        case "content_block_start":
          if (event.content_block.type === "tool_use") {
            calls.set(event.index, { id: event.content_block.id ?? `toolu_${event.index}`, name: event.content_block.name ?? "", arguments: "" });
            if (calls.size > MAX_TOOL_CALLS_PER_ANSWER) throw tooManyToolCalls();
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
    const { default: Sdk } = await loadAnthropic();
    throw providerFailure(error, (caught) => caught instanceof Sdk.APIUserAbortError);
  }
  // A tool_use block with no input deltas has an empty object as input.
  const toolCalls = [...calls.entries()].sort(([a], [b]) => a - b).map(([, call]) => ({ ...call, arguments: call.arguments === "" ? "{}" : call.arguments }));
  return { text, toolCalls, inputTokens, outputTokens, totalTokens: inputTokens + outputTokens, model };
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
