import { KNOWLEDGE_TOP_K_DEFAULT, KNOWLEDGE_TOP_K_MAX, type AgentTool, type KnowledgeSearchHit } from "@galaxy/contracts";
import { OutboundFailedError, OutboundRefusedError, postSigned, type OutboundPolicy } from "@galaxy/webhooks";
import type { ToolCall, ToolSpec } from "../executions/messages";
import { calculate, CalculatorError, MAX_EXPRESSION_LENGTH } from "./calculator";
import { schemaViolation } from "./json-schema";
import { webhookToolSecret } from "./tool-secret";

/** What a tool's result may give back to the model, in characters; longer is cut. */
export const MAX_TOOL_RESULT_CHARS = 16_000;
/** What a step's detail keeps of a tool's arguments and result. */
const MAX_DETAIL_CHARS = 2_000;

const BUILTIN_SPECS: Record<Extract<AgentTool, { type: "builtin" }>["name"], ToolSpec> = {
  current_time: {
    name: "current_time",
    description: "The current date and time (ISO 8601), in UTC or in the IANA time zone given.",
    parameters: {
      type: "object",
      properties: { timezone: { type: "string", description: "An IANA time zone such as Europe/Paris; UTC when absent" } },
      additionalProperties: false,
    },
  },
  calculator: {
    name: "calculator",
    description: "Evaluates an arithmetic expression: numbers, + - * / % ^, parentheses, pi, e, sqrt, abs, round, floor, ceil, ln, log10, exp, sin, cos, tan, min, max, pow.",
    parameters: {
      type: "object",
      properties: { expression: { type: "string", minLength: 1, maxLength: MAX_EXPRESSION_LENGTH, description: "For example (2 + 3) * 4" } },
      required: ["expression"],
      additionalProperties: false,
    },
  },
  knowledge_search: {
    name: "knowledge_search",
    description: "Searches the agent's knowledge bases and returns the passages closest to the query.",
    parameters: {
      type: "object",
      properties: {
        query: { type: "string", minLength: 1, maxLength: 8_000 },
        topK: { type: "integer", minimum: 1, maximum: KNOWLEDGE_TOP_K_MAX, description: `How many passages (default ${KNOWLEDGE_TOP_K_DEFAULT})` },
      },
      required: ["query"],
      additionalProperties: false,
    },
  },
};

/** The tools as the model is offered them, in the agent's order. */
export function toolSpecs(tools: readonly AgentTool[]): ToolSpec[] {
  return tools.map((tool) => (tool.type === "builtin" ? BUILTIN_SPECS[tool.name] : { name: tool.name, description: tool.description, parameters: tool.parameters }));
}

/** How the worker reaches the outside for webhook tools. */
export interface ToolSettings {
  policy: OutboundPolicy;
  /** `GALAXY_MASTER_KEY`: webhook tools' secrets derive from it; absent, webhook tools fail. */
  masterKey: string | undefined;
  /** How long a webhook tool may take. */
  timeoutMs: number;
}

/** The execution a tool call belongs to. */
export interface ToolContext {
  workspaceId: string;
  agentId: string;
  executionId: string;
  /** Which model answer asked for this call (1 for the first) and the call's place in it (0 for the first). */
  round: number;
  index: number;
  knowledgeBaseIds: readonly string[];
  searchKnowledge: (query: string, topK: number) => Promise<KnowledgeSearchHit[]>;
  signal: AbortSignal;
  now?: () => Date;
}

/** Why a tool call produced no result; the model gets the message, the step keeps the code. */
export type ToolFailureCode = "unknown_tool" | "invalid_arguments" | "tool_failed" | "outbound_refused" | "outbound_timeout" | "outbound_failed" | "outbound_aborted";

export type ToolOutcome =
  | { ok: true; content: string; detail: Record<string, unknown> }
  | { ok: false; code: ToolFailureCode; content: string; detail: Record<string, unknown> };

class ToolFailure extends Error {
  constructor(
    readonly code: ToolFailureCode,
    message: string,
    readonly detail: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/**
 * Runs one tool call: finds the tool, parses and validates the arguments against its JSON
 * Schema, and calls it. Never throws: a tool's failure, expected or not, comes back as a
 * result the model reads (`error: …`), so it can correct itself in the next round, rather
 * than failing (and rerunning) the whole execution.
 */
export async function runTool(call: ToolCall, tools: readonly AgentTool[], context: ToolContext, settings: ToolSettings): Promise<ToolOutcome> {
  const base = { tool: call.name, callId: call.id, arguments: clip(call.arguments, MAX_DETAIL_CHARS) };
  try {
    const tool = tools.find((candidate) => candidate.name === call.name);
    if (!tool) throw new ToolFailure("unknown_tool", `There is no tool named ${call.name}`);
    const spec = toolSpecs([tool])[0];
    const args = parseArguments(call.arguments);
    const violation = spec ? schemaViolation(spec.parameters, args) : null;
    if (violation) throw new ToolFailure("invalid_arguments", `The arguments do not match the tool's parameters: ${violation}`);
    const { content, detail } = await invoke(tool, args, call, context, settings);
    return { ok: true, content: clip(content, MAX_TOOL_RESULT_CHARS), detail: { ...base, type: tool.type, result: clip(content, MAX_DETAIL_CHARS), ...detail } };
  } catch (error) {
    if (!(error instanceof ToolFailure)) {
      const message = `The tool failed unexpectedly: ${clip(error instanceof Error ? error.message : String(error), 500)}`;
      return { ok: false, code: "tool_failed", content: `error: ${message}`, detail: { ...base, error: { code: "tool_failed", message } } };
    }
    return { ok: false, code: error.code, content: `error: ${error.message}`, detail: { ...base, ...error.detail, error: { code: error.code, message: error.message } } };
  }
}

function parseArguments(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text.trim() === "" ? "{}" : text);
  } catch {
    throw new ToolFailure("invalid_arguments", "The arguments are not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ToolFailure("invalid_arguments", "The arguments must be a JSON object");
  return value as Record<string, unknown>;
}

async function invoke(tool: AgentTool, args: Record<string, unknown>, call: ToolCall, context: ToolContext, settings: ToolSettings): Promise<{ content: string; detail: Record<string, unknown> }> {
  if (tool.type === "webhook") return callWebhook(tool, args, call, context, settings);
  switch (tool.name) {
    case "current_time":
      return { content: currentTime((context.now ?? (() => new Date()))(), typeof args.timezone === "string" ? args.timezone : undefined), detail: {} };
    case "calculator": {
      const expression = String(args.expression);
      try {
        return { content: String(calculate(expression)), detail: {} };
      } catch (error) {
        if (error instanceof CalculatorError) throw new ToolFailure("invalid_arguments", error.message);
        throw error;
      }
    }
    case "knowledge_search": {
      if (context.knowledgeBaseIds.length === 0) throw new ToolFailure("tool_failed", "This agent has no knowledge bases to search");
      const topK = typeof args.topK === "number" ? args.topK : KNOWLEDGE_TOP_K_DEFAULT;
      let hits: KnowledgeSearchHit[];
      try {
        hits = await context.searchKnowledge(String(args.query), topK);
      } catch (error) {
        throw new ToolFailure("tool_failed", `The knowledge bases could not be searched: ${error instanceof Error ? error.message : String(error)}`);
      }
      const content = JSON.stringify(hits.map((hit) => ({ documentId: hit.documentId, chunk: hit.chunk, score: Number(hit.score.toFixed(4)) })));
      return { content, detail: { hits: hits.length } };
    }
    default: {
      const exhaustive: never = tool;
      return exhaustive;
    }
  }
}

function currentTime(now: Date, timeZone: string | undefined): string {
  if (timeZone === undefined || timeZone === "UTC") return now.toISOString();
  let formatted: string;
  try {
    formatted = new Intl.DateTimeFormat("sv-SE", { timeZone, dateStyle: "short", timeStyle: "medium", hourCycle: "h23" }).format(now);
  } catch {
    throw new ToolFailure("invalid_arguments", `Unknown time zone ${timeZone}`);
  }
  return `${formatted.replace(" ", "T")} (${timeZone}); ${now.toISOString()} UTC`;
}

/**
 * Calls a webhook tool: a Standard Webhooks-signed POST of
 * `{executionId, agentId, tool, callId, arguments}` to its URL, within the timeout, only where
 * `OUTBOUND_HOST_ALLOWLIST` allows. A 2xx answer's body is the result; anything else is an error.
 */
async function callWebhook(tool: Extract<AgentTool, { type: "webhook" }>, args: Record<string, unknown>, call: ToolCall, context: ToolContext, settings: ToolSettings): Promise<{ content: string; detail: Record<string, unknown> }> {
  if (!settings.masterKey) throw new ToolFailure("tool_failed", "Webhook tools are not configured on this worker (GALAXY_MASTER_KEY is not set)");
  // Round and index make it unique within the execution: providers may reuse call ids across rounds.
  const webhookId = `${context.executionId}.${context.round}.${context.index}.${call.id}`.replace(/[^\x21-\x7e]/g, "_").slice(0, 255);
  try {
    const answer = await postSigned({
      url: tool.url,
      secret: webhookToolSecret(settings.masterKey, context.workspaceId, context.agentId),
      webhookId,
      body: { executionId: context.executionId, agentId: context.agentId, tool: tool.name, callId: call.id, arguments: args },
      timeoutMs: settings.timeoutMs,
      policy: settings.policy,
      signal: context.signal,
      maxResponseBytes: MAX_TOOL_RESULT_CHARS,
    });
    const detail = { status: answer.status, webhookId };
    if (answer.status < 200 || answer.status > 299) throw new ToolFailure("tool_failed", `The tool answered ${answer.status}: ${clip(answer.body, 500)}`, detail);
    return { content: answer.body, detail };
  } catch (error) {
    if (error instanceof OutboundRefusedError) throw new ToolFailure("outbound_refused", error.message, { webhookId, reason: error.reason });
    if (error instanceof OutboundFailedError) throw new ToolFailure(error.code, error.message, { webhookId });
    throw error;
  }
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
