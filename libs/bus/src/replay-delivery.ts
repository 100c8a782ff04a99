import { setTimeout as sleep } from "node:timers/promises";
import type { MsgHdrs } from "@nats-io/transport-node";
import { GalaxyError, type RawBusMessage } from "@galaxy/contracts";
import { classifyFailure } from "./classify-failure";
import { writeDeadLetter } from "./dead-letters";
import { reportForgedMessage, securityFailure } from "./forged-messages";
import { continuing, inApplySpan } from "./message-spans";
import { incomingOf, toRawMessage, type IncomingMessage } from "./raw-messages";
import type { BusResources } from "./resources";
import { DEFAULT_RETRY_POLICY, RetryState } from "./retry-policy";
import type { BatchHandler, EventMessage } from "./types";
import { verifyEvent } from "./verify-event";

/**
 * Hands one message, replayed or redriven, to the handler of this process's durable consumer
 * `consumer`, after the same checks as a live delivery (an event's claim expiry is not checked
 * again). `replayId` becomes `Gx-Replay-Id`. A message that can never be applied becomes a
 * dead letter of that consumer (and a `security.forged_message` when it failed its claim or
 * workspace checks) and the error is thrown; so is any other failure, for the caller to retry.
 */
export async function deliver(r: BusResources, consumer: string, raw: RawBusMessage, options: { replayId?: string | undefined } = {}): Promise<void> {
  const handler = r.running.appliers.get(consumer);
  if (!handler) throw new GalaxyError(404, "consumer_not_found", `this service runs no consumer named ${consumer}`);
  const msg = incomingOf(raw, r.names.subject(raw.subject), r.names.stream("EVENTS"), options);
  try {
    const message = await verifyEvent(r, msg, 1);
    await inApplySpan(message, consumer, { "galaxy.replay": options.replayId ?? "" }, (_traceparent, span) => handler(continuing(message, span)));
  } catch (error) {
    if (classifyFailure(error) === "terminal") await deadLetter(r, consumer, raw, msg, error, "terminal", options);
    throw error;
  }
}

/** Writes a replayed or redriven message as a dead letter of `consumer`, and reports it when it failed its claim or workspace checks. */
async function deadLetter(r: BusResources, consumer: string, raw: RawBusMessage, msg: IncomingMessage, error: unknown, kind: "terminal" | "unknown", options: { replayId?: string | undefined }): Promise<void> {
  const logger = r.logger.child({ consumer, subject: raw.subject, seq: raw.seq, replayId: options.replayId });
  const reason = error instanceof Error ? error.message : String(error);
  logger.warn({ err: error }, "a replayed or redriven message cannot be applied; dead-lettered");
  await writeDeadLetter(r, consumer, msg, reason, 1);
  const security = securityFailure(error);
  r.metrics.deadLetters.inc({ consumer, cause: security ? "forged" : kind });
  if (security) await reportForgedMessage(r, consumer, msg, security, logger);
}

/**
 * Like {@link deliver} for many messages in stream order: a batch consumer's handler gets them
 * in one call when every one passes its checks; otherwise (or when that call fails) each is
 * delivered alone, so a bad one costs only itself. Answers the failures by sequence.
 */
export async function deliverMany(r: BusResources, consumer: string, raws: RawBusMessage[], options: { replayId?: string | undefined } = {}): Promise<DeliveryFailures> {
  const batch = r.running.batchAppliers.get(consumer);
  if (batch && raws.length > 1) {
    const stream = r.names.stream("EVENTS");
    const verified = await verifyAll(r, consumer, raws, (raw) => incomingOf(raw, r.names.subject(raw.subject), stream, options));
    const failures = verified && (await handBatch(r, consumer, batch, verified, raws));
    if (failures) return failures;
  }
  return deliverEach(r, consumer, raws, options);
}

/** A message as a replay read it from `EVENTS`: its subject as on the wire (with the prefix). */
export interface ReadMessage {
  subject: string;
  headers: MsgHdrs | undefined;
  data: Uint8Array;
  seq: number;
}

/** Failures of a batch handed over, by sequence. */
export type DeliveryFailures = Array<{ seq: number; error: string }>;

/** A batch a replay read, its messages being checked: {@link PreparedRead.apply} hands it over. */
export interface PreparedRead {
  /**
   * The batch's messages once checked, as its handler will get them (null when one failed its
   * checks or the consumer takes no batches): what the handler's work ahead of time may start on.
   */
  checked: Promise<readonly EventMessage[] | null>;
  /** Hands the batch to the consumer's handler once its checks ended; answers the failures. */
  apply(): Promise<DeliveryFailures>;
}

/**
 * Like {@link deliverMany} for messages a replay of this process read itself: verified as they
 * were read, with no copy to the raw form and back (what a request carries them in). The checks
 * start at once, so that they run while the replay's batch before is still being applied; the
 * handler gets the batch only when `apply` is called. A batch that fails its checks or its
 * handler goes the raw way one message at a time, so a refused one becomes its dead letter
 * exactly as {@link deliver} makes it.
 */
export function prepareRead(r: BusResources, consumer: string, messages: ReadMessage[], options: { replayId?: string | undefined } = {}): PreparedRead {
  const batch = r.running.batchAppliers.get(consumer);
  const stream = r.names.stream("EVENTS");
  const checked = batch && messages.length > 1 ? verifyAll(r, consumer, messages, (message) => readView(message, stream), options.replayId) : Promise.resolve(null);
  return {
    checked,
    apply: async () => {
      const verified = await checked;
      const failures = batch && verified && (await handBatch(r, consumer, batch, verified, messages));
      if (failures) return failures;
      return deliverEach(r, consumer, messages.map((m) => toRawMessage(r.names.unprefixed(m.subject), m.seq, m.headers, m.data)), options);
    },
  };
}

/** Every message verified, in order; null when one is not (never rejects: the batch then goes one message at a time). */
async function verifyAll<T>(r: BusResources, consumer: string, messages: T[], view: (message: T) => IncomingMessage, replayId?: string): Promise<EventMessage[] | null> {
  try {
    const verified: EventMessage[] = [];
    for (const message of messages) verified.push(await verifyEvent(r, view(message), 1, replayId));
    return verified;
  } catch (error) {
    r.logger.debug({ err: error, consumer, messages: messages.length }, "a replayed message failed its checks; delivering the batch one message at a time");
    return null;
  }
}

/**
 * Hands verified messages to the consumer's batch handler in one call; answers the ones it
 * refused by sequence (of `messages`, in the same order), or null when the call failed, for the
 * caller to deliver them one at a time.
 */
async function handBatch(r: BusResources, consumer: string, batch: BatchHandler, verified: EventMessage[], messages: ReadonlyArray<{ seq: number }>): Promise<DeliveryFailures | null> {
  try {
    const refused = (await batch(verified)) ?? [];
    return refused.map((refusal) => ({ seq: messages[verified.indexOf(refusal.message)]?.seq ?? 0, error: refusal.error.message }));
  } catch (error) {
    r.logger.debug({ err: error, consumer, messages: verified.length }, "replayed batch failed; delivering its messages one at a time");
    return null;
  }
}

function readView(message: ReadMessage, stream: string): IncomingMessage {
  return { subject: message.subject, headers: message.headers, data: message.data, seq: message.seq, info: { stream, deliveryCount: 1 }, time: new Date(), working: () => undefined };
}

/** Transient failures in a row a replayed message gets (a database or identity away), before the replay stops on it. */
const TRANSIENT_ATTEMPTS = 5;

/**
 * Delivers each message alone, in order, under the consumer's retry policy as a live delivery
 * is (`RetryState`, docs/bus.md "Retry policy"): one that can never be applied is dead-lettered
 * by {@link deliver}, one whose handler keeps failing for an unknown reason once it used up the
 * consumer's attempts; both are answered as failures and the replay goes on. One that fails for
 * a reason that passes is tried again in place, but where a live consumer waits it out, a replay
 * stops after {@link TRANSIENT_ATTEMPTS} in a row and throws, rather than leave the message out
 * of what it rebuilds (docs/replay.md).
 */
async function deliverEach(r: BusResources, consumer: string, raws: RawBusMessage[], options: { replayId?: string | undefined }): Promise<DeliveryFailures> {
  const failed: DeliveryFailures = [];
  const policy = r.running.retryPolicies.get(consumer) ?? DEFAULT_RETRY_POLICY;
  for (const raw of raws) {
    const retries = new RetryState(policy);
    for (;;) {
      try {
        await deliver(r, consumer, raw, options);
        break;
      } catch (error) {
        const verdict = retries.next(error);
        if (verdict.action === "dead_letter") {
          // A terminal one was dead-lettered by deliver; an unknown one that used up its attempts is here.
          if (verdict.kind === "unknown") await deadLetter(r, consumer, raw, incomingOf(raw, r.names.subject(raw.subject), r.names.stream("EVENTS"), options), error, "unknown", options);
          failed.push({ seq: raw.seq, error: error instanceof Error ? error.message : String(error) });
          break;
        }
        if (retries.transientInARow >= TRANSIENT_ATTEMPTS) throw error;
        await sleep(verdict.delayMs);
      }
    }
  }
  return failed;
}
