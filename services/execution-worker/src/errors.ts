import { ConflictError, NotFoundError } from "@galaxy/contracts";

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

export class ExecutionNotFoundError extends NotFoundError {
  constructor(executionId: string) {
    super("execution", executionId, "execution_not_found");
    this.name = "ExecutionNotFoundError";
  }
}

/** Why a model call produced no answer; becomes the execution's `error`. */
export type ModelFailureCode = "provider_error" | "provider_not_configured" | "agent_version_missing" | "too_many_attempts" | "timeout" | "lease_lost";

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
