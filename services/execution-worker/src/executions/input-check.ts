import { ValidationError, type AgentConfig } from "@galaxy/contracts";
import { CompiledSchemas, fieldProblems, type ValidateFunction } from "@galaxy/json-schema";

/**
 * Compiled input schemas by agent version (a version is immutable, so its schema is too).
 * allErrors: the caller learns every bad field at once, not one per attempt.
 */
const compiled = new CompiledSchemas({ allErrors: true });

/**
 * Checks a start's input against the pinned version's `inputSchema` (none: anything goes).
 * Throws a 400 `input_invalid` whose `details` name each bad field (`input.<path>`), before
 * anything is recorded.
 */
export function checkInput(agentId: string, version: number, config: Pick<AgentConfig, "inputSchema">, input: unknown): void {
  const schema = config.inputSchema;
  if (!schema) return;
  // The registry compiled this schema when the agent was saved; one that no longer compiles
  // (an Ajv upgrade) refuses every input rather than letting unchecked input through.
  let validate: ValidateFunction;
  try {
    validate = compiled.get(`${agentId}:${version}`, schema);
  } catch (error) {
    throw new ValidationError("The agent's inputSchema cannot be used to check the input", { inputSchema: error instanceof Error ? error.message : String(error) }, "input_schema_unusable");
  }
  if (validate(input)) return;
  throw new ValidationError("The input does not match the agent's inputSchema", fieldProblems(validate.errors, "input"), "input_invalid");
}
