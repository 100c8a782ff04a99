import type { Conversation, Reply, ToolChoice } from "./chat";
import { digest } from "./chat";
import type { ContentBlock, MessagesRequest } from "./anthropic.schemas";
import type { ChatModelId } from "./models";
import { sseFrame } from "./sse";
import { splitIntoPieces } from "./tokens";

/** Reduces an Anthropic Messages request to the conversation the dev models read. */
export function conversationFromAnthropic(model: ChatModelId, request: MessagesRequest): Conversation {
  const texts: string[] = [];
  const toolResults: string[] = [];
  let lastUserText = "";
  if (request.system !== undefined) texts.push(blocksText(request.system));
  for (const message of request.messages) {
    const blocks: ContentBlock[] = typeof message.content === "string" ? [{ type: "text", text: message.content }] : message.content;
    const text = blocksText(blocks);
    texts.push(text);
    if (message.role === "user" && blocks.some((block) => block.type === "text")) lastUserText = text;
    for (const block of blocks) {
      if (block.type === "tool_use") texts.push(block.name, JSON.stringify(block.input ?? {}));
      if (block.type === "tool_result") {
        const result = block.content === undefined ? "" : blocksText(block.content);
        texts.push(result);
        toolResults.push(result);
      }
    }
  }
  return {
    model,
    texts,
    lastUserText,
    toolResults,
    tools: (request.tools ?? []).map((tool) => ({ name: tool.name, parameters: tool.input_schema })),
    toolChoice: toolChoice(request.tool_choice),
    maxTokens: request.max_tokens,
  };
}

function blocksText(content: string | readonly ContentBlock[]): string {
  if (typeof content === "string") return content;
  return content.flatMap((block) => (block.type === "text" ? [block.text] : [])).join("\n");
}

function toolChoice(choice: MessagesRequest["tool_choice"]): ToolChoice {
  switch (choice?.type) {
    case undefined:
    case "auto":
      return { kind: "auto" };
    case "any":
      return { kind: "required" };
    case "none":
      return { kind: "none" };
    case "tool":
      return { kind: "named", name: choice.name };
    default: {
      const _exhaustive: never = choice;
      return _exhaustive;
    }
  }
}

export function messageId(model: string, request: MessagesRequest): string {
  return `msg_${digest([model, request.system ?? null, request.messages, request.tools ?? null])}`;
}

function stopReason(reply: Reply): "end_turn" | "max_tokens" | "tool_use" {
  if (reply.kind === "tool_call") return "tool_use";
  return reply.truncated ? "max_tokens" : "end_turn";
}

function usage(inputTokens: number, outputTokens: number) {
  return {
    input_tokens: inputTokens,
    output_tokens: outputTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    service_tier: "standard",
  };
}

function contentBlock(reply: Reply) {
  return reply.kind === "text"
    ? { type: "text", text: reply.text, citations: null }
    : { type: "tool_use", id: `toolu_${reply.callKey}`, name: reply.name, input: reply.arguments };
}

/** The Message object Anthropic returns when not streaming. */
export function anthropicMessage(id: string, model: string, reply: Reply) {
  return {
    id,
    type: "message",
    role: "assistant",
    model,
    content: [contentBlock(reply)],
    stop_reason: stopReason(reply),
    stop_sequence: null,
    usage: usage(reply.usage.promptTokens, reply.usage.completionTokens),
  };
}

/**
 * The SSE frames of a streamed message, as Anthropic sends them: message_start
 * (empty content, input tokens known), one content block with a delta per
 * token (`text_delta`, or `input_json_delta` for a tool call), content_block_stop,
 * message_delta with the stop reason and output tokens, message_stop.
 */
export function anthropicMessageFrames(id: string, model: string, reply: Reply): string[] {
  const event = (data: { type: string } & Record<string, unknown>) => sseFrame(data, data.type);
  const start = { ...anthropicMessage(id, model, reply), content: [], stop_reason: null, usage: usage(reply.usage.promptTokens, 0) };

  const frames = [event({ type: "message_start", message: start })];
  if (reply.kind === "text") {
    frames.push(event({ type: "content_block_start", index: 0, content_block: { type: "text", text: "", citations: null } }));
    frames.push(event({ type: "ping" }));
    for (const piece of splitIntoPieces(reply.text)) {
      frames.push(event({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: piece } }));
    }
  } else {
    frames.push(event({ type: "content_block_start", index: 0, content_block: { ...contentBlock(reply), input: {} } }));
    frames.push(event({ type: "ping" }));
    for (const piece of splitIntoPieces(JSON.stringify(reply.arguments))) {
      frames.push(event({ type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: piece } }));
    }
  }
  frames.push(event({ type: "content_block_stop", index: 0 }));
  frames.push(
    event({
      type: "message_delta",
      delta: { stop_reason: stopReason(reply), stop_sequence: null },
      usage: { input_tokens: reply.usage.promptTokens, output_tokens: reply.usage.completionTokens },
    }),
  );
  frames.push(event({ type: "message_stop" }));
  return frames;
}
