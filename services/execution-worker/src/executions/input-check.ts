import type { AgentConfig } from "@galaxy/contracts";
import { checkAgentInput, CompiledSchemas } from "@galaxy/json-schema";

/**
 * Compiled input schemas by agent version (a version is immutable, so its schema is too).
 * allErrors: the caller learns every bad field at once, not one per attempt.
 */
const compiled = new CompiledSchemas({ allErrors: true });

/**
 * Checks a start's input against the pinned version's `inputSchema` (none: anything goes).
 * Throws a 400 `input_invalid` whose `details` name each bad field (`input.<path>`), before
 * anything is recorded. The registry compiled this schema when the agent was saved; one that no
 * longer compiles refuses every input (`input_schema_unusable`).
 */
export function checkInput(agentId: string, version: number, config: Pick<AgentConfig, "inputSchema">, input: unknown): void {
  if (config.inputSchema) checkAgentInput(compiled, `${agentId}:${version}`, config.inputSchema, input, "input", "input");
}
