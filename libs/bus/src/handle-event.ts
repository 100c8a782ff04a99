import type { JsMsg } from "@nats-io/jetstream";
import { lazyChild } from "@galaxy/observability";
import type { ConsumerRun } from "./consumer-run";
import { settleDeadLetter } from "./dead-letters";
import { continuing, inApplySpan } from "./message-spans";
import { securityFailure } from "./forged-messages";
import type { BusResources } from "./resources";
import { errorCode, RetryState, type RetryPolicy } from "./retry-policy";
import type { EventMessage } from "./types";
import { verifyEvent } from "./verify-event";

/** A message redelivered this often without an ack is taken to crash its consumer. */
export const POISON_DELIVERIES = 20;

/**
 * Applies one message (docs/bus.md, "Retry policy"). A failure is retried here, in place, with
 * backoff, so the messages behind it wait and the consumer keeps stream order: a transient one
 * (an engine unreachable) for as long as it lasts, an unknown one up to the policy's attempts.
 * A terminal failure, or an unknown one out of attempts, makes the message a dead letter, and
 * it is acked. While it waits, the message and those behind it are kept alive (`working`), so
 * JetStream never redelivers them.
 */
export async function handleEvent(r: BusResources, run: ConsumerRun, handler: (message: EventMessage) => Promise<void>, policy: RetryPolicy, msg: JsMsg): Promise<void> {
  const consumer = run.durable;
  const logger = lazyChild(r.logger, { consumer, subject: msg.subject, seq: msg.seq });
  if (msg.info.deliveryCount > POISON_DELIVERIES) {
    // Redelivered again and again without an ack: the handler likely crashes its process.
    const reason = `delivered ${msg.info.deliveryCount} times without being acknowledged`;
    await settleDeadLetter(r, consumer, msg, { reason, attempts: msg.info.deliveryCount, cause: "poison", securityReason: null }, logger());
    return;
  }
  if (msg.info.deliveryCount > 1) r.metrics.redeliveries.inc({ consumer });
  else r.metrics.eventAge.observe({ consumer }, Math.max(0, Date.now() - msg.info.timestampNanos / 1e6) / 1000);
  const retries = new RetryState(policy);
  for (let attempt = 1; ; attempt++) {
    try {
      const message = await verifyEvent(r, msg, attempt);
      await inApplySpan(message, consumer, { "galaxy.attempt": attempt }, (_traceparent, span) => handler(continuing(message, span)));
      msg.ack();
      if (retries.transientInARow > 0) logger().info({ attempt }, "event applied after its dependencies came back");
      r.metrics.transientFailures.set({ consumer }, 0);
      return;
    } catch (error) {
      const verdict = retries.next(error);
      r.metrics.transientFailures.set({ consumer }, retries.transientInARow);
      if (verdict.action === "dead_letter") {
        const reason = error instanceof Error ? error.message : String(error);
        logger().error({ err: error, attempt, kind: verdict.kind }, verdict.kind === "terminal" ? "event cannot be applied; dead-lettered" : "event failed every attempt; dead-lettered");
        const security = securityFailure(error);
        const cause = security ? "forged" : verdict.kind;
        await settleDeadLetter(r, consumer, msg, { reason, attempts: attempt, cause, securityReason: security }, logger());
        r.metrics.transientFailures.set({ consumer }, 0);
        return;
      }
      if (run.stopping()) {
        // Shutting down: hand it back for another instance (or our next start) to apply.
        msg.nak();
        return;
      }
      logger().warn(
        {
          attempt,
          kind: verdict.kind,
          delayMs: verdict.delayMs,
          code: errorCode(error),
          // A bug's stack is worth its lines; an outage's, repeated every step, is not.
          ...(verdict.kind === "unknown" ? { err: error } : { error: error instanceof Error ? error.message : String(error) }),
        },
        verdict.kind === "transient" ? "a dependency is unavailable; retrying the event in place" : "event handler failed; retrying in place",
      );
      await pause(verdict.delayMs, msg, run);
      if (run.stopping()) {
        msg.nak();
        return;
      }
      r.metrics.redeliveries.inc({ consumer });
    }
  }
}

/**
 * Waits `ms`, telling JetStream the message is still being worked on, and waking early on
 * stop. Every other message the consumer holds is kept alive too: a long retry (a database
 * outage) must not let them pass their ack wait and be redelivered without ever having been
 * tried.
 */
async function pause(ms: number, msg: JsMsg, run: ConsumerRun): Promise<void> {
  const until = Date.now() + ms;
  while (!run.stopping() && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, until - Date.now())));
    msg.working();
    run.keepHeld();
  }
}
