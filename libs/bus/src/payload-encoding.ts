import { gunzipSync, gzipSync } from "node:zlib";
import type { MsgHdrs } from "@nats-io/transport-node";
import { GalaxyError, HEADER } from "@galaxy/contracts";

/**
 * Galaxy's messages are JSON. One too large for the NATS server (its `max_payload`, 1 MB unless
 * configured) is sent gzipped instead, marked `Gx-Content-Encoding: gzip`: a webhook body close
 * to 1 MiB, an execution whose input and output pass it. Every reader of the bus takes both
 * (docs/bus.md, "Large messages"); a message that fits is sent as it always was.
 */
export const GZIP = "gzip";

/** Room kept in a message for its headers (a claim, trace context, a dead letter's error). */
const HEADER_ROOM = 16 * 1024;

/** The most a gzipped payload may inflate to: well over anything Galaxy sends, far under a gzip bomb. */
const MAX_INFLATED_BYTES = 32 * 1024 * 1024;

const UTF8 = new TextDecoder();

/** The largest payload sent, as it is or gzipped, given the server's `max_payload`: what is left beside the headers. */
export function payloadLimit(maxPayload: number | undefined): number {
  if (maxPayload === undefined) return Number.POSITIVE_INFINITY;
  return Math.max(maxPayload - HEADER_ROOM, maxPayload / 2);
}

/**
 * A payload larger than the server carries even gzipped: input that does not compress. A 503
 * that retrying cannot cure; an operator must raise `max_payload` (docs/operations.md, "NATS").
 */
export class MessageTooLargeError extends GalaxyError {
  constructor(readonly bytes: number, readonly limit: number, what: string) {
    super(
      503,
      `${what}_too_large`,
      `The ${what} (${bytes} bytes gzipped) is larger than the event bus carries (${limit} bytes: NATS's max_payload less room for headers): raise max_payload (docs/operations.md, "NATS")`,
      { retryable: false },
    );
    this.name = "MessageTooLargeError";
  }
}

/**
 * The payload to send for `json`: the text itself when it fits under `maxPayload`, otherwise its
 * gzip, which the sender marks with {@link markGzipped}. Gzipping is synchronous, so messages
 * leave in the order they were sent (an outbox publishes a run's events one after another), and
 * it is rare: a megabyte takes a few milliseconds.
 * @throws {MessageTooLargeError} `<what>_too_large` when even the gzip does not fit.
 */
export function encodePayload(json: string, maxPayload: number | undefined, what: "message" | "reply" = "message"): { data: string | Uint8Array; gzipped: boolean } {
  const limit = payloadLimit(maxPayload);
  // At most three bytes a UTF-16 unit: most payloads are known to fit without being measured.
  if (json.length * 3 <= limit) return { data: json, gzipped: false };
  const bytes = Buffer.from(json);
  if (bytes.length <= limit) return { data: bytes, gzipped: false };
  const zipped = gzipSync(bytes);
  if (zipped.length > limit) throw new MessageTooLargeError(zipped.length, limit, what);
  return { data: zipped, gzipped: true };
}

/** Marks a message's payload as gzipped. */
export function markGzipped(headers: MsgHdrs): MsgHdrs {
  headers.set(HEADER.contentEncoding, GZIP);
  return headers;
}

/**
 * A message's payload parsed as JSON, inflated first when it says it is gzipped. A payload that is
 * not JSON, a gzip that is corrupt or inflates past {@link MAX_INFLATED_BYTES}, or an encoding
 * Galaxy does not write, is `{ ok: false }`.
 */
export function readJson(headers: MsgHdrs | undefined, data: Uint8Array): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(payloadText(headers, data)) };
  } catch {
    return { ok: false };
  }
}

/** A message's payload as text, inflated when gzipped; throws when it cannot be read. */
function payloadText(headers: MsgHdrs | undefined, data: Uint8Array): string {
  const encoding = headers?.get(HEADER.contentEncoding);
  if (!encoding) return UTF8.decode(data);
  if (encoding !== GZIP) throw new Error(`unknown ${HEADER.contentEncoding}: ${encoding}`);
  return UTF8.decode(gunzipSync(data, { maxOutputLength: MAX_INFLATED_BYTES }));
}
