import type { AgentConfig } from "@galaxy/contracts";
import { checkAgentInput } from "@galaxy/json-schema";

/**
 * Checks a start's input against the pinned version's `inputSchema` (none: anything goes).
 * Throws a 400 `input_invalid` whose `details` name each bad field (`input.<path>`), before
 * anything is recorded. The registry compiled this schema when the agent was saved; one that no
 * longer compiles refuses every input (`input_schema_unusable`).
 */
export function checkInput(agentId: string, version: number, config: Pick<AgentConfig, "inputSchema">, input: unknown): void {
  checkAgentInput({ agentId, version, schema: config.inputSchema }, input, "input", "input");
}
