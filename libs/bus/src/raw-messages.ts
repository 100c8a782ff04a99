import { headers as natsHeaders, type MsgHdrs } from "@nats-io/transport-node";
import { HEADER, type RawBusMessage } from "@galaxy/contracts";

/**
 * What the bus needs of a message to verify and apply it: a JetStream message as delivered,
 * or one handed over in a request (a replayed event, a redriven dead letter, one that waited
 * while its workspace was rebuilt).
 */
export interface IncomingMessage {
  /** The subject as on the wire (with the deployment's prefix). */
  subject: string;
  headers: MsgHdrs | undefined;
  data: Uint8Array;
  seq: number;
  info: { stream: string; deliveryCount: number };
  /** When the stream stored it (now, for a message handed over). */
  time: Date;
  working(): void;
}

/** Headers a dead letter adds to the original message's; a redrive takes them off again. */
const DLQ_HEADERS: readonly string[] = [HEADER.dlqConsumer, HEADER.dlqError, HEADER.dlqDeliveries, HEADER.dlqSubject];

/** A message as it can travel in a request: unprefixed subject, every header, the payload in base64. */
export function toRawMessage(subject: string, seq: number, headers: MsgHdrs | undefined, data: Uint8Array): RawBusMessage {
  const out: Record<string, string[]> = {};
  if (headers) for (const key of headers.keys()) out[key] = headers.values(key);
  return { subject, seq, headers: out, data: Buffer.from(data).toString("base64") };
}

/** The raw form of a delivered message, with the subject given without its prefix. */
export function rawOf(msg: IncomingMessage, unprefixedSubject: string): RawBusMessage {
  return toRawMessage(unprefixedSubject, msg.seq, msg.headers, msg.data);
}

/**
 * A raw message back as something the bus can verify. `prefixed` is its subject under the
 * deployment's prefix; `replayId`, when given, is set as `Gx-Replay-Id`; dead-letter headers
 * are dropped, so the consumer sees the message as it first did.
 */
export function incomingOf(raw: RawBusMessage, prefixed: string, stream: string, options: { replayId?: string | undefined } = {}): IncomingMessage {
  const h = natsHeaders();
  for (const [key, values] of Object.entries(raw.headers)) {
    if (DLQ_HEADERS.includes(key)) continue;
    for (const value of values) h.append(key, value);
  }
  if (options.replayId) h.set(HEADER.replayId, options.replayId);
  return {
    subject: prefixed,
    headers: h,
    data: new Uint8Array(Buffer.from(raw.data, "base64")),
    seq: raw.seq,
    info: { stream, deliveryCount: 1 },
    time: new Date(),
    working: () => undefined,
  };
}

/** One header's first value, or undefined. */
export function rawHeader(raw: RawBusMessage, key: string): string | undefined {
  const found = Object.entries(raw.headers).find(([name]) => name.toLowerCase() === key.toLowerCase());
  return found?.[1][0];
}
