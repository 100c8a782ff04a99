import type { AgentConfig } from "@galaxy/contracts";

/** The user message given to the model: `input.message` when a string, else the input as JSON (CONTRACT §1). */
export function userMessage(input: unknown): string {
  if (typeof input === "object" && input !== null && "message" in input && typeof input.message === "string") return input.message;
  return JSON.stringify(input ?? null);
}

/** What one model call asks, whatever the provider. */
export interface ModelRequest {
  provider: AgentConfig["provider"];
  model: string;
  system: string;
  user: string;
  temperature: number | null;
  maxTokens: number | null;
}

export function modelRequest(config: AgentConfig, input: unknown): ModelRequest {
  return {
    provider: config.provider,
    model: config.model,
    system: config.systemPrompt,
    user: userMessage(input),
    temperature: config.temperature,
    maxTokens: config.maxTokens,
  };
}
