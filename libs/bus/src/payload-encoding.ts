import { gunzipSync, gzip } from "node:zlib";
import { promisify } from "node:util";
import type { MsgHdrs } from "@nats-io/transport-node";
import { HEADER } from "@galaxy/contracts";

/**
 * Galaxy's messages are JSON. One too large for the NATS server (its `max_payload`, 1 MB unless
 * configured) is sent gzipped instead, marked `Gx-Content-Encoding: gzip`: a webhook body close
 * to 1 MiB, an execution whose input and output pass it. Every reader of the bus takes both
 * (docs/bus.md, "Large messages"); a message that fits is sent as it always was.
 */
export const GZIP = "gzip";

/** Room kept in a message for its headers (a claim, trace context, a dead letter's error). */
const HEADER_ROOM = 8 * 1024;

/** The most a gzipped payload may inflate to: well over anything Galaxy sends, far under a gzip bomb. */
const MAX_INFLATED_BYTES = 32 * 1024 * 1024;

const gzipAsync = promisify(gzip);
const UTF8 = new TextDecoder();

/** The largest payload that is sent as it is, given the server's `max_payload`. */
export function plainLimit(maxPayload: number | undefined): number {
  return (maxPayload ?? Number.POSITIVE_INFINITY) - HEADER_ROOM;
}

/**
 * The payload to send for `json`: the text itself when it fits under `maxPayload`, otherwise its
 * gzip, which the sender marks with {@link markGzipped}. Gzipping runs off the event loop. A
 * gzip may still be too large (input that does not compress); NATS refuses it then.
 */
export async function encodePayload(json: string, maxPayload: number | undefined): Promise<{ data: string | Uint8Array; gzipped: boolean }> {
  const limit = plainLimit(maxPayload);
  // At most three bytes a UTF-16 unit: most payloads are known to fit without being measured.
  if (json.length * 3 <= limit) return { data: json, gzipped: false };
  const bytes = Buffer.from(json);
  if (bytes.length <= limit) return { data: bytes, gzipped: false };
  return { data: await gzipAsync(bytes), gzipped: true };
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
