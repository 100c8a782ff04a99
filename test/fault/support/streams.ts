import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { HEADER } from "@galaxy/contracts";
import type { NatsServer } from "./nats";

/** One message of `DEAD_LETTERS`: which consumer gave up on it, and why. */
export interface DeadLetter {
  seq: number;
  consumer: string;
  error: string;
}

/** The last sequence of `DEAD_LETTERS` (read as the CLI's NATS user, as `galaxy dlq` would). */
export async function deadLetterHead(nats: NatsServer): Promise<number> {
  return withJsm(nats, async (jsm) => (await jsm.streams.info("DEAD_LETTERS")).state.last_seq);
}

/** The dead letters written after sequence `after`. */
export async function deadLettersAfter(nats: NatsServer, after: number): Promise<DeadLetter[]> {
  return withJsm(nats, async (jsm) => {
    const last = (await jsm.streams.info("DEAD_LETTERS")).state.last_seq;
    const letters: DeadLetter[] = [];
    for (let seq = after + 1; seq <= last; seq++) {
      const message = await jsm.streams.getMessage("DEAD_LETTERS", { seq }).catch(() => null);
      if (!message) continue;
      letters.push({ seq, consumer: message.header?.get(HEADER.dlqConsumer) ?? "?", error: message.header?.get(HEADER.dlqError) ?? "?" });
    }
    return letters;
  });
}

/**
 * Whether the worker's webhook consumer holds nothing: no delivery waiting and none handed out
 * unacknowledged. Once so, an accepted delivery without its execution will never get one.
 */
export async function webhookConsumerIdle(nats: NatsServer): Promise<boolean> {
  return withJsm(nats, async (jsm) => {
    const info = await jsm.consumers.info("EVENTS", "execution-worker-webhooks");
    return info.num_pending === 0 && info.num_ack_pending === 0;
  }).catch(() => false);
}

async function withJsm<T>(nats: NatsServer, fn: (jsm: Awaited<ReturnType<typeof jetstreamManager>>) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: nats.url, user: "galaxy-cli", pass: nats.passwords["galaxy-cli"], inboxPrefix: "_INBOX_galaxy-cli", reconnect: false });
  try {
    return await fn(await jetstreamManager(nc));
  } finally {
    await nc.close();
  }
}
