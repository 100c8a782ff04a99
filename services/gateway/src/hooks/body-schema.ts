import type { ResolvedTrigger } from "@galaxy/contracts";
import { checkAgentInput } from "@galaxy/json-schema";

/**
 * Refuses, before the 202, a delivery body that fails its agent's current `inputSchema`, as the
 * worker would refuse to start an execution from it (docs/webhooks.md): 400 `input_invalid`
 * naming each bad field `body.<path>`.
 */
export function checkDeliveryBody(trigger: ResolvedTrigger, body: unknown): void {
  checkAgentInput({ agentId: trigger.agentId, version: trigger.agentVersion, schema: trigger.inputSchema }, body, "body", "body");
}
