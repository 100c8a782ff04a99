import { ForbiddenError, NotFoundError, ValidationError, type Action } from "@galaxy/contracts";

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
