import { nanos } from "@nats-io/transport-node";
import { AckPolicy, DeliverPolicy, type ConsumerMessages, type JsMsg } from "@nats-io/jetstream";
import { MessageQueue } from "./message-queue";
import type { BusResources } from "./resources";
import type { ConsumerHandle, ConsumerOptions } from "./types";
import { isNotFound } from "./wire";
import { ConsumerNotFoundError } from "./errors";

export const DEFAULT_ACK_WAIT_MS = 30_000;

/** What a consumer's loop shares with the handling of each of its messages. */
export interface ConsumerRun {
  readonly durable: string;
  /** Received messages wait here, where the consumer keeps them alive while it retries the one in hand. */
  readonly queue: MessageQueue;
  stopped: boolean;
  /** True once the bus or this consumer stops: a retry hands its message back instead. */
  stopping(): boolean;
  /** Keeps alive every message the consumer holds besides the one in hand. */
  keepHeld(): void;
  /** How often waiting messages are kept alive between messages: a third of the ack wait. */
  keepAliveEveryMs: number;
}

/**
 * Creates (or updates) the durable pull consumer on `EVENTS` and starts receiving into a
 * queue. A buffered message must not outwait its ack wait behind a slow one (it would come
 * back with a higher delivery count), so the consumer keeps it alive while it works.
 */
export async function startConsumer(
  r: BusResources,
  options: Pick<ConsumerOptions, "durable" | "filter" | "ackWaitMs" | "existingOnly">,
  limits: { maxAckPending: number; buffer: number },
  held: () => readonly JsMsg[] = () => [],
): Promise<{ run: ConsumerRun; messages: ConsumerMessages; pump: Promise<void> }> {
  r.watchKeyRevocations();
  const stream = r.names.stream("EVENTS");
  const ackWait = nanos(options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS);
  const filter = r.names.subject(options.filter);
  try {
    await r.jsm.consumers.info(stream, options.durable);
    await r.jsm.consumers.update(stream, options.durable, { ack_wait: ackWait, max_ack_pending: limits.maxAckPending, filter_subject: filter });
  } catch (error) {
    if (!isNotFound(error)) throw error;
    if (options.existingOnly) throw new ConsumerNotFoundError(options.durable);
    await r.jsm.consumers.add(stream, {
      durable_name: options.durable,
      filter_subject: filter,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: ackWait,
      max_ack_pending: limits.maxAckPending,
      // The bus decides when a message is given up (docs/bus.md, "Retry policy"), never JetStream.
      max_deliver: -1,
    });
  }
  const consumer = await r.js.consumers.get(stream, options.durable);
  const messages = await consumer.consume({ max_messages: limits.buffer });
  const queue = new MessageQueue();
  const run: ConsumerRun = {
    durable: options.durable,
    queue,
    stopped: false,
    stopping: () => r.running.stopping || run.stopped,
    keepHeld: () => {
      for (const msg of held()) msg.working();
      queue.keepAlive(0);
    },
    keepAliveEveryMs: Math.floor((options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS) / 3),
  };
  const pump = (async () => {
    for await (const msg of messages) queue.push(msg);
  })()
    .catch((error: unknown) => r.logger.error({ err: error, consumer: options.durable }, "consumer stopped"))
    .finally(() => queue.end());
  return { run, messages, pump };
}

/**
 * Lists a consumer for `stopIntake`, reports its lag, and hands back its own stop (once,
 * whoever calls it first).
 */
export function registerConsumer(r: BusResources, started: { run: ConsumerRun; messages: ConsumerMessages; pump: Promise<void> }, loop: Promise<void>): ConsumerHandle {
  const { run, messages, pump } = started;
  const stream = r.names.stream("EVENTS");
  const unwatch = r.metrics.watchLag(run.durable, async () => {
    const info = await r.jsm.consumers.info(stream, run.durable);
    return info.num_pending + info.num_ack_pending;
  });
  r.metrics.transientFailures.set({ consumer: run.durable }, 0);
  const done = loop.catch((error: unknown) => r.logger.error({ err: error, consumer: run.durable }, "consumer stopped"));
  let stopped: Promise<void> | null = null;
  const handle: ConsumerHandle = {
    stop: () => {
      run.stopped = true;
      stopped ??= (async () => {
        unwatch();
        await messages.close();
        await pump;
        await done;
      })();
      return stopped;
    },
  };
  r.running.consumers.push(handle);
  return handle;
}
