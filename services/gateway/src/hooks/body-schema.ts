import type { ResolvedTrigger } from "@galaxy/contracts";
import { checkAgentInput, CompiledSchemas } from "@galaxy/json-schema";

/** Validators by agent version, which never changes once saved; Ajv is Fastify's own, already loaded. */
const compiled = new CompiledSchemas({ allErrors: true });

/**
 * Refuses, before the 202, a delivery body that fails its agent's current `inputSchema`, as the
 * worker would refuse to start an execution from it (docs/webhooks.md): 400 `input_invalid`
 * naming each bad field `body.<path>`.
 */
export function checkDeliveryBody(trigger: ResolvedTrigger, body: unknown): void {
  if (trigger.inputSchema) checkAgentInput(compiled, `${trigger.agentId}:${trigger.agentVersion}`, trigger.inputSchema, body, "body", "body");
}
