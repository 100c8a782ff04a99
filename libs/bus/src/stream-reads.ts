import type { MsgHdrs } from "@nats-io/transport-node";
import { DeliverPolicy } from "@nats-io/jetstream";
import type { StreamKind } from "./names";
import type { BusResources } from "./resources";
import { isNotFound } from "./wire";

/**
 * An ordered consumer on `EVENTS` or `DEAD_LETTERS` (ephemeral, no acks, recreated by the
 * client at the right place if a message is missed): how replays and the dead-letter index
 * read a stream. `filter` is without the deployment's prefix.
 */
export async function orderedReader(r: BusResources, stream: StreamKind, options: { filter: string; fromSeq?: number | undefined; since?: string | undefined }) {
  const start =
    options.fromSeq !== undefined
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: options.fromSeq }
      : options.since !== undefined
        ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(options.since).toISOString() }
        : { deliver_policy: DeliverPolicy.All };
  // One filter, given as a string: NATS 2.9 has no `filter_subjects`.
  return r.js.consumers.get(r.names.stream(stream), { filter_subjects: r.names.subject(options.filter), ...start });
}

/** A stream's first and last sequence and its message count right now. */
export async function streamState(r: BusResources, stream: StreamKind): Promise<{ firstSeq: number; lastSeq: number; messages: number }> {
  const info = await r.jsm.streams.info(r.names.stream(stream));
  return { firstSeq: info.state.first_seq, lastSeq: info.state.last_seq, messages: info.state.messages };
}

/** One message of a stream by sequence, or null when there is none. */
export async function streamMessage(r: BusResources, stream: StreamKind, seq: number): Promise<{ subject: string; seq: number; time: Date; headers: MsgHdrs | undefined; data: Uint8Array } | null> {
  try {
    const msg = await r.jsm.streams.getMessage(r.names.stream(stream), { seq });
    if (!msg) return null;
    return { subject: r.names.unprefixed(msg.subject), seq: msg.seq, time: msg.time, headers: msg.header, data: msg.data };
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
}
