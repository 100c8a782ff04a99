import { ValidationError, type ResolvedTrigger } from "@galaxy/contracts";
import { CompiledSchemas, fieldProblems, type ValidateFunction } from "@galaxy/json-schema";

/** Validators by agent version, which never changes once saved; Ajv is Fastify's own, already loaded. */
const compiled = new CompiledSchemas({ allErrors: true });

/**
 * Refuses, before the 202, a delivery body that fails its agent's current `inputSchema`, as the
 * worker would refuse to start an execution from it (docs/webhooks.md): 400 `input_invalid`
 * naming each bad field `body.<path>`.
 */
export function checkDeliveryBody(trigger: ResolvedTrigger, body: unknown): void {
  if (!trigger.inputSchema) return;
  let validate: ValidateFunction;
  try {
    validate = compiled.get(`${trigger.agentId}:${trigger.agentVersion}`, trigger.inputSchema);
  } catch (error) {
    throw new ValidationError("The agent's inputSchema cannot be used to check the body", { inputSchema: error instanceof Error ? error.message : String(error) }, "input_schema_unusable");
  }
  if (validate(body)) return;
  throw new ValidationError("The body does not match the agent's inputSchema", fieldProblems(validate.errors, "body"), "input_invalid");
}
