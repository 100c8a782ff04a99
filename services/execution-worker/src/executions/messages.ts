import type { AgentConfig, KnowledgeSearchHit } from "@galaxy/contracts";

/** The user message given to the model: `input.message` when a string, else the input as JSON (docs/api.md). */
export function userMessage(input: unknown): string {
  if (typeof input === "object" && input !== null && "message" in input && typeof input.message === "string") return input.message;
  return JSON.stringify(input ?? null);
}

/** A tool as the model is offered it, whatever the provider. */
export interface ToolSpec {
  name: string;
  description: string;
  /** JSON Schema of the tool's arguments (an object). */
  parameters: Record<string, unknown>;
}

/** A tool call the model asked for; `arguments` is the JSON text the model wrote. */
export interface ToolCall {
  id: string;
  name: string;
  arguments: string;
}

/** What a tool answered to one call, handed back to the model. */
export interface ToolResult {
  callId: string;
  name: string;
  content: string;
  isError: boolean;
}

/** One earlier model↔tool round: what the model said and asked, and what the tools answered. */
export interface ToolRound {
  text: string;
  calls: ToolCall[];
  results: ToolResult[];
}

/** What one model call asks, whatever the provider. */
export interface ModelRequest {
  provider: AgentConfig["provider"];
  model: string;
  system: string;
  user: string;
  temperature: number | null;
  maxTokens: number | null;
  tools: ToolSpec[];
  /** The rounds so far, oldest first; empty for the first call. */
  rounds: ToolRound[];
}

export function modelRequest(config: AgentConfig, input: unknown, extra: { system?: string; tools?: ToolSpec[]; rounds?: ToolRound[] } = {}): ModelRequest {
  return {
    provider: config.provider,
    model: config.model,
    system: extra.system ?? config.systemPrompt,
    user: userMessage(input),
    temperature: config.temperature,
    maxTokens: config.maxTokens,
    tools: extra.tools ?? [],
    rounds: extra.rounds ?? [],
  };
}

/** The most a context passage may add to the system prompt, per chunk. */
const MAX_CONTEXT_CHUNK_CHARS = 4_000;

/**
 * The system prompt with the knowledge bases' passages after it, numbered, so the model can
 * refer to them. Without passages, the prompt as it is.
 */
export function systemWithContext(systemPrompt: string, hits: readonly KnowledgeSearchHit[]): string {
  if (hits.length === 0) return systemPrompt;
  const passages = hits.map((hit, i) => `[${i + 1}] ${hit.chunk.slice(0, MAX_CONTEXT_CHUNK_CHARS)}`).join("\n\n");
  const intro = "Passages from the knowledge bases that may help you answer:";
  return systemPrompt.length > 0 ? `${systemPrompt}\n\n${intro}\n\n${passages}` : `${intro}\n\n${passages}`;
}
