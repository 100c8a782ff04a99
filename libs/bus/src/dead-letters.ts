import { headers as natsHeaders } from "@nats-io/transport-node";
import type { JsMsg } from "@nats-io/jetstream";
import { HEADER } from "@galaxy/contracts";
import type { DeadLetterCause, Logger } from "@galaxy/observability";
import { reportForgedMessage } from "./forged-messages";
import type { IncomingMessage } from "./raw-messages";
import type { BusResources } from "./resources";
import { clip } from "./wire";

/**
 * Writes a message a consumer could not apply to `dlq.<consumer>.<original subject>` with
 * every header it had and why it failed (docs/bus.md, "Dead letters"). Its id is consumer,
 * stream and sequence, so writing it again after a crash stores it once.
 */
export async function writeDeadLetter(r: BusResources, consumer: string, msg: IncomingMessage, error: string, attempts: number): Promise<void> {
  const h = natsHeaders();
  if (msg.headers) {
    for (const key of msg.headers.keys()) {
      if (key === HEADER.msgId) continue;
      for (const value of msg.headers.values(key)) h.append(key, value);
    }
  }
  const subject = r.names.unprefixed(msg.subject);
  const id = `${consumer}:${msg.info.stream}:${msg.seq}`;
  h.set(HEADER.dlqConsumer, consumer);
  h.set(HEADER.dlqError, clip(error.replace(/[\r\n]+/g, " ")));
  h.set(HEADER.dlqDeliveries, String(attempts));
  h.set(HEADER.dlqSubject, subject);
  h.set(HEADER.msgId, id);
  await r.js.publish(r.names.subject(`dlq.${consumer}.${subject}`), msg.data, { headers: h, msgID: id });
}

/**
 * Dead-letters a message a consumer holds, reports it as a `security.forged_message` when it
 * failed its claim or workspace checks (`securityReason`), then acks it. Without a dead letter
 * the message is handed back to be redelivered; without a report (identity or the bus down
 * after a few tries) it is still acked: the dead letter keeps it for an operator.
 */
export async function settleDeadLetter(
  r: BusResources,
  consumer: string,
  msg: JsMsg,
  failure: { reason: string; attempts: number; cause: DeadLetterCause; securityReason: string | null },
  logger: Logger,
): Promise<void> {
  try {
    await writeDeadLetter(r, consumer, msg, failure.reason, failure.attempts);
  } catch (dlqError) {
    logger.error({ err: dlqError }, "could not write the dead letter; will redeliver");
    msg.nak(5_000);
    return;
  }
  r.metrics.deadLetters.inc({ consumer, cause: failure.cause });
  if (failure.securityReason) await reportForgedMessage(r, consumer, msg, failure.securityReason, logger);
  msg.ack();
}
