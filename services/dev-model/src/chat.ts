import { createHash } from "node:crypto";
import type { ChatModelId } from "./models";
import { sampleArguments } from "./tool-arguments";
import { countTokens, truncateToTokens } from "./tokens";

/** A tool the caller offers, whichever wire protocol it came in. */
export interface ToolOffer {
  name: string;
  /** The tool's JSON Schema for its input, as sent. */
  parameters: unknown;
}

export type ToolChoice = { kind: "auto" } | { kind: "none" } | { kind: "required" } | { kind: "named"; name: string };

/** A chat request reduced to what the dev models look at; both wire protocols map onto it. */
export interface Conversation {
  model: ChatModelId;
  /** The text of every message (system, user, assistant, tool), in order; prompt tokens are counted over them. */
  texts: string[];
  /** Text of the last user message with text in it; "" when there is none. */
  lastUserText: string;
  /** Contents of tool results, in order. */
  toolResults: string[];
  tools: ToolOffer[];
  toolChoice: ToolChoice;
  /** Cap on completion tokens; null for none. */
  maxTokens: number | null;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

export type Reply =
  | { kind: "text"; text: string; truncated: boolean; usage: Usage }
  | {
      kind: "tool_call";
      /** Hex digest of the conversation: the same request always gets the same call id. */
      callKey: string;
      name: string;
      arguments: Record<string, unknown>;
      usage: Usage;
    };

/** What a dev model answers to a conversation. Pure: the same conversation always gets the same reply. */
export function replyTo(conversation: Conversation): Reply {
  const promptTokens = conversation.texts.reduce((sum, text) => sum + countTokens(text), 0);
  switch (conversation.model) {
    case "galaxy-dev-echo":
      return textReply(`echo: ${conversation.lastUserText}`, conversation.maxTokens, promptTokens);
    case "galaxy-dev-tools": {
      const tool = toolToCall(conversation);
      if (tool) {
        const args = sampleArguments(tool.parameters, conversation.lastUserText);
        return {
          kind: "tool_call",
          callKey: digest([conversation.model, conversation.texts, tool.name]),
          name: tool.name,
          arguments: args,
          usage: { promptTokens, completionTokens: countTokens(`${tool.name} ${JSON.stringify(args)}`) },
        };
      }
      const lastResult = conversation.toolResults.at(-1);
      const suffix = lastResult === undefined ? "" : ` (tool: ${lastResult})`;
      return textReply(`echo: ${conversation.lastUserText}${suffix}`, conversation.maxTokens, promptTokens);
    }
    default: {
      const _exhaustive: never = conversation.model;
      return _exhaustive;
    }
  }
}

/** Stable hex digest of any JSON value; ids of responses and tool calls derive from it. */
export function digest(value: unknown): string {
  return createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 24);
}

/**
 * The tool to call next: each offered tool once, in the order offered, one per answer (the
 * number of tool results so far says which); a named choice is called once. Then none, so a
 * caller that keeps offering tools still gets an answer.
 */
function toolToCall(conversation: Conversation): ToolOffer | undefined {
  const done = conversation.toolResults.length;
  const choice = conversation.toolChoice;
  switch (choice.kind) {
    case "none":
      return undefined;
    case "auto":
    case "required":
      return conversation.tools[done];
    case "named":
      return done > 0 ? undefined : conversation.tools.find((tool) => tool.name === choice.name);
    default: {
      const _exhaustive: never = choice;
      return _exhaustive;
    }
  }
}

function textReply(answer: string, maxTokens: number | null, promptTokens: number): Reply {
  const { text, truncated } = maxTokens === null ? { text: answer, truncated: false } : truncateToTokens(answer, maxTokens);
  return { kind: "text", text, truncated, usage: { promptTokens, completionTokens: countTokens(text) } };
}
