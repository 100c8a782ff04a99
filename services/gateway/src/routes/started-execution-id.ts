import { createHash } from "node:crypto";
import { v5 as uuidv5 } from "uuid";

/** Namespace of the ids of executions started with an `Idempotency-Key`. */
const STARTED_EXECUTION_NAMESPACE = "4f0d7c52-9b1e-4e83-a6f2-8c35d1e07b64";

/**
 * The execution a start with an `Idempotency-Key` creates: UUIDv5 of the caller's workspace,
 * the caller, the key, the agent and the input. The worker starts a fixed id once
 * (docs/executions.md), so a retry whose answer was lost (the bus dropped the reply, the
 * gateway died mid-request, its idempotency record could not be written) answers the same
 * execution instead of starting a second one. Another agent or input under the same key gives
 * another id, as the idempotency record itself refuses that reuse.
 */
export function startedExecutionId(scope: { workspaceId: string; principal: string; key: string; agentId: string; input: unknown }): string {
  const inputHash = createHash("sha256").update(JSON.stringify(scope.input ?? null)).digest("hex");
  return uuidv5(`${scope.workspaceId}\n${scope.principal}\n${scope.key}\n${scope.agentId}\n${inputHash}`, STARTED_EXECUTION_NAMESPACE);
}
