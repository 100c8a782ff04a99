import { GalaxyError } from "@galaxy/contracts";

/**
 * Audit's errors; codes are listed in docs/errors.md. On the bus a non-retryable error
 * sends the event to dead letters at once, so only a fault of the event itself is one.
 */

/** The event cannot be turned into a hashable entry (a value JSON cannot carry exactly). */
export class UnauditableEventError extends GalaxyError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(400, "unauditable_event", message, { ...options, retryable: false });
    this.name = "UnauditableEventError";
  }
}

/**
 * The event's id is already an entry of another workspace. Row-level security hides that
 * entry, so only the primary key sees it; the same id in two workspaces is never a replay.
 */
export class DuplicateEventIdError extends GalaxyError {
  constructor(eventId: string, options: { cause?: unknown } = {}) {
    super(409, "duplicate_event_id", `event ${eventId} is already recorded in another workspace`, { ...options, retryable: false });
    this.name = "DuplicateEventIdError";
  }
}

/** Reading across workspaces (security incidents) needs an operator claim of the system workspace. */
export class SystemAdminRequiredError extends GalaxyError {
  constructor() {
    super(403, "system_admin_required", "Only system admins may read security incidents");
    this.name = "SystemAdminRequiredError";
  }
}
