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

/** Reading across workspaces (security incidents) and retention need an operator claim of the system workspace. */
export class SystemAdminRequiredError extends GalaxyError {
  constructor(message = "Only system admins may read security incidents") {
    super(403, "system_admin_required", message);
    this.name = "SystemAdminRequiredError";
  }
}

/**
 * Retention found the part of a chain it was to remove broken: removing it would erase the
 * evidence, so nothing is removed until someone has looked (`GET /api/audit-logs/verify`).
 */
export class AuditChainBrokenError extends GalaxyError {
  constructor(workspaceId: string, firstBadSeq: number, reason: string) {
    super(409, "audit_chain_broken", `the audit chain of workspace ${workspaceId} is broken at seq ${firstBadSeq} (${reason}); retention removes nothing from a broken chain`, {
      details: { firstBadSeq: String(firstBadSeq), reason },
    });
    this.name = "AuditChainBrokenError";
  }
}
