import { ConsumerNotFoundError, TerminalMessageError, type Bus, type EventMessage } from "@galaxy/bus";
import { isTerminalExecutionEvent, TERMINAL_EXECUTION_EVENTS, type TypedEvent } from "@galaxy/contracts";
import { inWorkspace, type Kysely } from "@galaxy/db";
import type { Logger } from "@galaxy/observability";
import type { ExecutionDb } from "../db";
import type { NotifyUrls } from "./notify-urls";
import type { CallbackConfig } from "./config";
import { scheduleFirstAttempt } from "./callbacks.repository";

/**
 * The durable consumer that scheduled completion callbacks from terminal execution events on
 * the bus, before each end scheduled its own callback in its transaction (docs/decisions/0031).
 * No worker creates it any more. A deployment upgraded from before still has it, with the
 * events it had not applied: while it exists, it runs as it did; its dead letters can still be
 * redriven.
 */
export const RETIRED_CALLBACK_CONSUMER = "execution-worker-callbacks";
const RETIRED_CALLBACK_EVENTS = "evt.*.execution.>";

/**
 * Schedules the callback of a terminal execution event when the version the execution pinned
 * has a `notifyUrl`; the dispatcher makes the attempt. Idempotent: an attempt scheduled already
 * (by the end's transaction, a redelivery or a redrive) is left as it is.
 */
export async function scheduleCallback(
  db: Kysely<ExecutionDb>, notifyUrls: NotifyUrls, event: TypedEvent, config: Pick<CallbackConfig, "retryWindowMs">, now: Date = new Date(), traceparent?: string,
): Promise<boolean> {
  // An execution's last event: completed, failed (timed out too) or cancelled. The consumer
  // skips the others (`only: TERMINAL_EXECUTION_EVENTS`), but a redrive hands them over all the same.
  if (!isTerminalExecutionEvent(event)) return false;
  const { execution } = event.data;
  if (execution.workspaceId !== event.workspaceId) throw new TerminalMessageError("workspace_mismatch", "the execution belongs to another workspace than its event");
  const url = await notifyUrls.of(event.workspaceId, execution.agentId, execution.agentVersion);
  // The execution ran this version, so the projection holds it; if it does not yet, retry.
  if (url === undefined) throw new Error(`agent ${execution.agentId} version ${execution.agentVersion} is not in the projection yet`);
  if (url === null) return false;
  return inWorkspace(db, event.workspaceId, async (tx) =>
    scheduleFirstAttempt(tx, {
      workspaceId: event.workspaceId,
      executionId: execution.id,
      eventId: event.id,
      eventType: event.type,
      agentId: execution.agentId,
      agentVersion: execution.agentVersion,
      url,
      payload: { id: event.id, type: event.type, occurredAt: event.occurredAt, workspaceId: event.workspaceId, actor: event.actor, data: event.data },
      giveUpAt: new Date(now.getTime() + config.retryWindowMs),
      traceparent,
    }),
  );
}

export function callbackHandler(notifyUrls: NotifyUrls, db: Kysely<ExecutionDb>, config: Pick<CallbackConfig, "retryWindowMs">, scheduled: () => void): (message: EventMessage) => Promise<void> {
  return async (message) => {
    if (await scheduleCallback(db, notifyUrls, message.event, config, new Date(), message.derivedContext().traceparent)) scheduled();
  };
}

/**
 * Runs the retired consumer while it exists (a deployment upgraded from before: delete it once
 * every worker instance runs this version, docs/operations.md), and lets its dead letters be
 * redriven either way.
 */
export async function runRetiredCallbackConsumer(bus: Bus, logger: Logger, handler: (message: EventMessage) => Promise<void>): Promise<void> {
  bus.applyAs(RETIRED_CALLBACK_CONSUMER, handler);
  try {
    // Never created here: deleted, it stays deleted (created again, it would read the whole stream).
    await bus.consume({ durable: RETIRED_CALLBACK_CONSUMER, filter: RETIRED_CALLBACK_EVENTS, only: TERMINAL_EXECUTION_EVENTS, handler, existingOnly: true });
  } catch (error) {
    if (error instanceof ConsumerNotFoundError) return;
    throw error;
  }
  logger.warn(
    { consumer: RETIRED_CALLBACK_CONSUMER },
    "the retired consumer execution-worker-callbacks still exists: it runs until it is deleted, once every worker instance is upgraded (docs/operations.md)",
  );
}
