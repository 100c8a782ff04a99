import { TerminalMessageError, type EventMessage } from "@galaxy/bus";
import { isTerminalExecutionEvent, type TypedEvent } from "@galaxy/contracts";
import { inWorkspace, type Kysely } from "@galaxy/db";
import type { ExecutionDb } from "../db";
import { NotifyUrls } from "./notify-urls";
import type { CallbackConfig } from "./config";
import { scheduleFirstAttempt } from "./callbacks.repository";

/** The durable consumer that turns terminal execution events into completion callbacks. */
export const CALLBACK_CONSUMER = "execution-worker-callbacks";
export const CALLBACK_EVENTS = "evt.*.execution.>";

/**
 * Schedules the callback of a terminal execution event when the version the execution pinned
 * has a `notifyUrl`; the dispatcher makes the attempt. The message is acked once the attempt
 * is committed, so an acknowledged event always has its callback. Idempotent: a redelivery
 * or a replay finds the attempt scheduled already.
 */
export async function scheduleCallback(
  db: Kysely<ExecutionDb>, event: TypedEvent, config: Pick<CallbackConfig, "retryWindowMs">, now: Date = new Date(), notifyUrls: NotifyUrls = new NotifyUrls(db), traceparent?: string,
): Promise<boolean> {
  // An execution's last event: completed, failed (timed out too) or cancelled. The consumer
  // skips the others (`only: TERMINAL_EXECUTION_EVENTS`), but a replay or a redrive hands them
  // over all the same.
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

export function callbackHandler(db: Kysely<ExecutionDb>, config: Pick<CallbackConfig, "retryWindowMs">, scheduled: () => void): (message: EventMessage) => Promise<void> {
  const notifyUrls = new NotifyUrls(db);
  return async (message) => {
    // The consumer's span: the delivery, made later by the dispatcher, continues it.
    if (await scheduleCallback(db, message.event, config, new Date(), notifyUrls, message.derivedContext().traceparent)) scheduled();
  };
}
