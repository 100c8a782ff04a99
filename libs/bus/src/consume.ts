import type { JsMsg } from "@nats-io/jetstream";
import { parseEventSubject } from "@galaxy/contracts";
import { registerConsumer, startConsumer, type ConsumerRun } from "./consumer-run";
import { classifyFailure } from "./classify-failure";
import { settleDeadLetter } from "./dead-letters";
import { handleEvent, POISON_DELIVERIES } from "./handle-event";
import { inBatchSpans } from "./message-spans";
import type { BusResources } from "./resources";
import { retryPolicyOf } from "./retry-policy";
import type { BatchConsumerOptions, ConsumerHandle, ConsumerOptions, EventMessage } from "./types";
import { verifyEvent } from "./verify-event";
import { isNotFound } from "./wire";

/**
 * Runs a durable pull consumer on `EVENTS` (docs/bus.md, "Consumers"): each message is
 * verified before the handler runs, acked after it returns, retried in place when it throws
 * (docs/bus.md, "Retry policy"), and dead-lettered when it can never be applied. One message
 * at a time, in stream order, retries included.
 */
export async function consume(r: BusResources, options: ConsumerOptions): Promise<ConsumerHandle> {
  r.running.appliers.set(options.durable, options.handler);
  const policy = retryPolicyOf(options);
  r.running.retryPolicies.set(options.durable, policy);
  const started = await startConsumer(r, options, { maxAckPending: 256, buffer: 64 });
  const { run } = started;
  const wanted = options.only ? new Set<string>(options.only) : null;
  const loop = (async () => {
    for (;;) {
      const msg = (await run.queue.take(1, 0))?.[0];
      if (!msg) return;
      if (run.stopping()) {
        msg.nak();
        continue;
      }
      if (wanted && unwanted(wanted, r.names.unprefixed(msg.subject))) {
        msg.ack();
        continue;
      }
      await handleEvent(r, run, options.handler, policy, msg);
      run.queue.keepAlive(run.keepAliveEveryMs);
    }
  })();
  return registerConsumer(r, started, loop);
}

/**
 * Whether a consumer that applies only the `wanted` types acks this message unread: its subject
 * names an event of another type. A subject that names no event goes on to the checks, which
 * make it a dead letter.
 */
function unwanted(wanted: ReadonlySet<string>, subject: string): boolean {
  const type = parseEventSubject(subject)?.type;
  return type !== undefined && !wanted.has(type);
}

/**
 * Like {@link consume}, but hands the handler every event that is waiting (up to `maxBatch`,
 * after at most `lingerMs` for more) in one call, and acks them all after it returns: one
 * transaction can then apply many events. The events the handler refuses for good become dead
 * letters alone, the rest are acked. When any event of a batch fails its checks or the
 * handler throws, the batch is applied again one event at a time, in order, through the same
 * path as `consume` (retries in place, dead letters per event), so a bad event costs only
 * itself and stream order is kept.
 */
export async function consumeBatch(r: BusResources, options: BatchConsumerOptions): Promise<ConsumerHandle> {
  const maxBatch = options.maxBatch ?? 256;
  const lingerMs = options.lingerMs ?? 2;
  const policy = retryPolicyOf(options);
  const single = async (message: EventMessage) => {
    // Alone, a refusal is a throw: the one-at-a-time path dead-letters it.
    const refusal = (await options.handler([message]))?.[0];
    if (refusal) throw refusal.error;
  };
  r.running.appliers.set(options.durable, single);
  r.running.batchAppliers.set(options.durable, options.handler);
  r.running.retryPolicies.set(options.durable, policy);
  // The events of a failed batch not applied yet: kept alive, with the queue, while one is retried.
  let rest: JsMsg[] = [];
  // Unacked events are bounded by the consumer's max_ack_pending: two batches' worth.
  const started = await startConsumer(r, options, { maxAckPending: Math.max(256, maxBatch * 2), buffer: maxBatch }, () => rest);
  const { run } = started;
  const loop = (async () => {
    for (;;) {
      const batch = await run.queue.take(maxBatch, lingerMs);
      if (batch === null) return;
      if (!(await applyBatch(r, run, options, batch))) {
        for (let i = 0; i < batch.length; i++) {
          rest = batch.slice(i + 1);
          const msg = batch[i];
          if (!msg) continue;
          if (run.stopping()) {
            // Stopping: hand the rest back untried, in order.
            msg.nak();
            continue;
          }
          await handleEvent(r, run, single, policy, msg);
        }
        rest = [];
      }
      run.queue.keepAlive(run.keepAliveEveryMs);
    }
  })();
  return registerConsumer(r, started, loop);
}

/** The fast path of a batch: every event checked, one handler call, acks. False when anything failed. */
async function applyBatch(r: BusResources, run: ConsumerRun, options: BatchConsumerOptions, batch: JsMsg[]): Promise<boolean> {
  if (run.stopping()) {
    // Hand what was not started back at once, for another instance or our next start.
    for (const msg of batch) msg.nak();
    return true;
  }
  if (batch.some((msg) => msg.info.deliveryCount > POISON_DELIVERIES)) return false;
  const refused = new Map<number, Error>();
  for (const msg of batch) if (msg.info.deliveryCount === 1) r.metrics.eventAge.observe({ consumer: options.durable }, Math.max(0, Date.now() - msg.info.timestampNanos / 1e6) / 1000);
  try {
    const verified: EventMessage[] = [];
    for (const msg of batch) verified.push(await verifyEvent(r, msg, 1));
    const first = verified[0];
    if (!first) return true;
    const refusals = await inBatchSpans(verified, options.durable, () => options.handler(verified));
    for (const refusal of refusals ?? []) {
      const index = verified.indexOf(refusal.message);
      const msg = batch[index];
      // Only a refusal for good is a dead letter here; anything else is tried again, one event at a time.
      if (!msg || classifyFailure(refusal.error) !== "terminal") throw refusal.error;
      refused.set(index, refusal.error);
    }
  } catch (error) {
    r.logger.debug({ err: error, consumer: options.durable, events: batch.length }, "batch failed; applying its events one at a time");
    return false;
  }
  for (const [index, msg] of batch.entries()) {
    const error = refused.get(index);
    if (!error) {
      msg.ack();
      continue;
    }
    const logger = r.logger.child({ consumer: options.durable, subject: msg.subject, seq: msg.seq });
    logger.error({ err: error, attempt: 1, kind: "terminal" }, "event cannot be applied; dead-lettered");
    await settleDeadLetter(r, options.durable, msg, { reason: error.message, attempts: 1, cause: "terminal", securityReason: null }, logger);
  }
  return true;
}

/** Whether the durable consumer `durable` exists on `EVENTS` (one that no longer runs may remain, with what it had not applied). */
export async function consumerExists(r: BusResources, durable: string): Promise<boolean> {
  try {
    await r.jsm.consumers.info(r.names.stream("EVENTS"), durable);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

/** Lets redrives of consumer `durable`'s dead letters reach `handler` in this process, with no live consumer running. */
export function applyAs(r: BusResources, durable: string, handler: (message: EventMessage) => Promise<void>): void {
  r.running.appliers.set(durable, handler);
}
