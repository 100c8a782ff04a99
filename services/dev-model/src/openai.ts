import type { Conversation, Reply, ToolChoice } from "./chat";
import { digest } from "./chat";
import type { ChatModelId } from "./models";
import type { ChatCompletionRequest, ChatMessage } from "./openai.schemas";
import { sseFrame } from "./sse";
import { splitIntoPieces } from "./tokens";

type Content = Extract<ChatMessage, { role: "user" }>["content"];

/** Reduces an OpenAI chat request to the conversation the dev models read. */
export function conversationFromOpenAI(model: ChatModelId, request: ChatCompletionRequest): Conversation {
  const texts: string[] = [];
  const toolResults: string[] = [];
  let lastUserText = "";
  for (const message of request.messages) {
    const text = contentText(message.content);
    texts.push(text);
    if (message.role === "user" && hasText(message.content)) lastUserText = text;
    if (message.role === "tool") toolResults.push(text);
    if (message.role === "assistant") {
      for (const call of message.tool_calls ?? []) texts.push(call.function.name, call.function.arguments);
    }
  }
  return {
    model,
    texts,
    lastUserText,
    toolResults,
    tools: (request.tools ?? []).map((tool) => ({ name: tool.function.name, parameters: tool.function.parameters })),
    toolChoice: toolChoice(request.tool_choice),
    maxTokens: request.max_completion_tokens ?? request.max_tokens ?? null,
  };
}

function contentText(content: Content | null | undefined): string {
  if (content === null || content === undefined) return "";
  if (typeof content === "string") return content;
  return content.flatMap((part) => (part.type === "text" ? [part.text] : [])).join("\n");
}

function hasText(content: Content): boolean {
  return typeof content === "string" || content.some((part) => part.type === "text");
}

function toolChoice(choice: ChatCompletionRequest["tool_choice"]): ToolChoice {
  if (choice === undefined || choice === "auto") return { kind: "auto" };
  if (choice === "none") return { kind: "none" };
  if (choice === "required") return { kind: "required" };
  return { kind: "named", name: choice.function.name };
}

/** Identity of one completion: its id and creation time, shared by all chunks of a stream. */
export interface CompletionStamp {
  id: string;
  created: number;
  model: string;
}

export function completionStamp(model: string, request: ChatCompletionRequest, now: Date): CompletionStamp {
  return { id: `chatcmpl-${digest([model, request.messages, request.tools ?? null])}`, created: Math.floor(now.getTime() / 1000), model };
}

const SYSTEM_FINGERPRINT = "galaxy-dev";

function openAIUsage(reply: Reply) {
  const { promptTokens, completionTokens } = reply.usage;
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

function finishReason(reply: Reply): "stop" | "length" | "tool_calls" {
  if (reply.kind === "tool_call") return "tool_calls";
  return reply.truncated ? "length" : "stop";
}

function toolCallId(reply: Extract<Reply, { kind: "tool_call" }>): string {
  return `call_${reply.callKey}`;
}

/** The `chat.completion` object OpenAI returns when not streaming. */
export function chatCompletion(stamp: CompletionStamp, reply: Reply) {
  const message =
    reply.kind === "text"
      ? { role: "assistant", content: reply.text, refusal: null, annotations: [] }
      : {
          role: "assistant",
          content: null,
          refusal: null,
          annotations: [],
          tool_calls: [{ id: toolCallId(reply), type: "function", function: { name: reply.name, arguments: JSON.stringify(reply.arguments) } }],
        };
  return {
    id: stamp.id,
    object: "chat.completion",
    created: stamp.created,
    model: stamp.model,
    system_fingerprint: SYSTEM_FINGERPRINT,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason(reply) }],
    usage: openAIUsage(reply),
  };
}

/**
 * The SSE frames of a streamed completion, as OpenAI sends them: a role chunk,
 * one delta per token, a chunk carrying `finish_reason`, a usage chunk with
 * empty `choices` when `include_usage` is set (every earlier chunk then has
 * `usage: null`), and `data: [DONE]`.
 */
export function chatCompletionFrames(stamp: CompletionStamp, reply: Reply, includeUsage: boolean): string[] {
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
    id: stamp.id,
    object: "chat.completion.chunk",
    created: stamp.created,
    model: stamp.model,
    system_fingerprint: SYSTEM_FINGERPRINT,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...(includeUsage ? { usage: null } : {}),
  });

  const chunks: unknown[] = [];
  if (reply.kind === "text") {
    chunks.push(chunk({ role: "assistant", content: "", refusal: null }));
    for (const piece of splitIntoPieces(reply.text)) chunks.push(chunk({ content: piece }));
  } else {
    chunks.push(
      chunk({
        role: "assistant",
        content: null,
        tool_calls: [{ index: 0, id: toolCallId(reply), type: "function", function: { name: reply.name, arguments: "" } }],
      }),
    );
    for (const piece of splitIntoPieces(JSON.stringify(reply.arguments))) {
      chunks.push(chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] }));
    }
  }
  chunks.push(chunk({}, finishReason(reply)));
  if (includeUsage) {
    chunks.push({
      id: stamp.id,
      object: "chat.completion.chunk",
      created: stamp.created,
      model: stamp.model,
      system_fingerprint: SYSTEM_FINGERPRINT,
      choices: [],
      usage: openAIUsage(reply),
    });
  }
  return [...chunks.map((data) => sseFrame(data)), sseFrame("[DONE]")];
}
