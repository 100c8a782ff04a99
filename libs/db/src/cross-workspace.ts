import type { Kysely } from "kysely";
import type { EventActor, WorkspaceClaim } from "@galaxy/contracts";
import type { Logger } from "@galaxy/observability";
import { appendEvent, type EventContext, type OutboxRelay } from "./outbox";
import { inWorkspace } from "./workspace-tx";

/** A lookup by id that found nothing in the caller's workspace, and how to tell whether the id is another workspace's. */
export interface CrossWorkspaceAttempt<DB> {
  db: Kysely<DB>;
  relay: OutboxRelay;
  /** The caller's verified claim: the event is recorded in its workspace, under its actor. */
  claim: WorkspaceClaim;
  /** Builds the context of the event; called only when there is an attempt to record. */
  eventContext: () => EventContext;
  /**
   * Where the request came from, when the caller knows it apart from the event context (a
   * bus request's own `clientIp`/`userAgent`); by default the event context's.
   */
  client?: { clientIp?: string | undefined; userAgent?: string | undefined } | undefined;
  /** What was looked up (`agent`, `member`, …), its id, and the operation that looked. */
  targetType: string;
  targetId: string;
  operation: string;
  /** Asks the service's security-definer "exists elsewhere" function whether the id is another workspace's. */
  existsElsewhere: () => Promise<boolean>;
  /** Where a failure to find out or to record is logged. */
  logger: Logger | undefined;
}

/**
 * After a lookup by id found nothing in the caller's workspace: when the id is another
 * workspace's, records a `security.cross_workspace_attempt` event in the caller's workspace
 * (through the outbox, published at once); the other workspace is told nothing. Callers ask on
 * every miss, so a foreign id and a random one cost the same query; only the report's insert
 * tells them apart. The caller answers its 404 either way: a failure to find out or to record
 * is logged, never thrown, since a 503 for foreign ids alone would tell what the 404 hides.
 *
 * Returns whether an attempt was recorded.
 */
export async function reportCrossWorkspaceAttempt<DB>(attempt: CrossWorkspaceAttempt<DB>): Promise<boolean> {
  const { db, relay, claim, targetType, targetId, operation } = attempt;
  try {
    if (!(await attempt.existsElsewhere())) return false;
    const context = attempt.eventContext();
    const client = attempt.client ?? context;
    const actor: EventActor = { type: claim.act, id: claim.sub };
    const event = await inWorkspace(db, claim.ws, (tx) =>
      appendEvent(tx, {
        type: "security.cross_workspace_attempt",
        workspaceId: claim.ws,
        actor,
        context,
        data: { actor, targetType, targetId, operation, ipAddress: client.clientIp ?? null, userAgent: client.userAgent ?? null },
      }),
    );
    relay.publishNow([event]);
    return true;
  } catch (error) {
    attempt.logger?.error({ err: error, targetType, targetId, operation }, "could not check or record a cross-workspace attempt");
    return false;
  }
}
