import { ConflictError, GalaxyError, NotFoundError } from "@galaxy/contracts";

/** The execution worker's errors; codes are listed in docs/errors.md. */
export class AgentNotFoundError extends NotFoundError {
  constructor(agentId: string) {
    super("agent", agentId, "agent_not_found");
    this.name = "AgentNotFoundError";
  }
}

export class AgentNotActiveError extends ConflictError {
  constructor(agentId: string, status: string) {
    super("agent_not_active", `Agent ${agentId} is ${status}; activate it before starting executions`);
    this.name = "AgentNotActiveError";
  }
}

/** `execution.cancel` of an execution that already ended. */
export class ExecutionTerminalError extends ConflictError {
  constructor(executionId: string, status: string) {
    super("execution_terminal", `Execution ${executionId} already ended (${status}); there is nothing to cancel`);
    this.name = "ExecutionTerminalError";
  }
}

/**
 * A start the workspace's subscription tier does not allow now: too many executions queued,
 * or the month's token budget spent. `retryAfterSeconds` travels in `details.retryAfter` so the
 * gateway can answer `Retry-After`.
 */
export class QuotaExceededError extends GalaxyError {
  constructor(message: string, readonly retryAfterSeconds: number, details: Record<string, string>) {
    super(429, "quota_exceeded", message, { details: { ...details, retryAfter: String(retryAfterSeconds) } });
    this.name = "QuotaExceededError";
  }
}

export class ExecutionNotFoundError extends NotFoundError {
  constructor(executionId: string) {
    super("execution", executionId, "execution_not_found");
    this.name = "ExecutionNotFoundError";
  }
}

/** Why a model call produced no answer; becomes the execution's `error`. */
export type ModelFailureCode =
  | "provider_error"
  | "provider_not_configured"
  | "agent_version_missing"
  | "too_many_attempts"
  | "timeout"
  | "lease_lost"
  // The answer is not JSON, or not the JSON the agent's outputSchema describes.
  | "output_schema_violation"
  // The model kept asking for tools after the last round the worker allows.
  | "tool_rounds_exceeded"
  // The registry could not search the agent's knowledge bases for context.
  | "knowledge_unavailable"
  // `execution.cancel` asked it to stop; the execution ends `cancelled`.
  | "cancelled"
  // The workspace's monthly token budget (its tier) is spent, or the answer reached what was left of it.
  | "budget_exceeded";

/**
 * A model call that failed. Not a `GalaxyError`: it never answers a request, it ends an
 * execution, whose record keeps the code and the provider's own message.
 */
export class ModelCallError extends Error {
  constructor(readonly code: ModelFailureCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = "ModelCallError";
  }
}

/** This instance no longer holds the execution's lease: another instance may be running it. */
export class LeaseLostError extends Error {
  constructor(executionId: string) {
    super(`the lease on execution ${executionId} was lost`);
    this.name = "LeaseLostError";
  }
}
