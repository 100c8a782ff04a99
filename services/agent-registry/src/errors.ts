import { ConflictError, ForbiddenError, NotFoundError, ValidationError, type Action } from "@galaxy/contracts";

// Codes are part of the API: integrators match on them, so they never change (README lists them).

/** No such agent in the caller's workspace: also the answer for another workspace's agent or a deleted one. */
export class AgentNotFoundError extends NotFoundError {
  constructor(id: string) {
    super("agent", id, "agent_not_found");
    this.name = "AgentNotFoundError";
  }
}

/** The caller's role (or its permission overrides) does not allow the action. */
export class ActionForbiddenError extends ForbiddenError {
  constructor(action: Action) {
    super(`Your role does not allow ${action}`, "forbidden");
    this.name = "ActionForbiddenError";
  }
}

/** A JSON Schema in the agent body is not one: `details` maps its field to what is wrong. */
export class InvalidJsonSchemaError extends ValidationError {
  constructor(details: Record<string, string>) {
    super("The agent contains an invalid JSON Schema", details, "invalid_json_schema");
    this.name = "InvalidJsonSchemaError";
  }
}

/** The agent's state does not allow the change (pausing a draft). */
export class AgentStateConflictError extends ConflictError {
  constructor(id: string, status: string, action: string) {
    super("agent_not_active", `Agent ${id} is ${status}; only an active agent can be ${action}`);
    this.name = "AgentStateConflictError";
  }
}

/** The agent version asked for has no completion callback (no `notifyUrl`), or does not exist. */
export class NotifySecretNotFoundError extends NotFoundError {
  constructor(agentId: string, version: number) {
    super("notify_secret", `${agentId}@${version}`, "notify_secret_not_found");
    this.name = "NotifySecretNotFoundError";
  }
}

/** No such trigger on this agent in the caller's workspace (also one deleted, or another workspace's). */
export class TriggerNotFoundError extends NotFoundError {
  constructor(id: string) {
    super("trigger", id, "trigger_not_found");
    this.name = "TriggerNotFoundError";
  }
}

/** A schedule's cron expression or time zone is not one Galaxy can run: `details` says which. */
export class InvalidScheduleError extends ValidationError {
  constructor(details: Record<string, string>) {
    super("The schedule is invalid", details, "invalid_schedule");
    this.name = "InvalidScheduleError";
  }
}

/** Only a webhook trigger has a secret to rotate. */
export class TriggerHasNoSecretError extends ConflictError {
  constructor(id: string) {
    super("trigger_has_no_secret", `Trigger ${id} is a schedule; only webhook triggers have a secret to rotate`);
    this.name = "TriggerHasNoSecretError";
  }
}
