import { headers as natsHeaders, type Msg, type MsgHdrs } from "@nats-io/transport-node";
import type { z } from "zod";
import { GalaxyError, HEADER, REQUESTS, ReplyEnvelope, UnavailableError, requestSubject, type ReplyData, type RequestName, uuidv7 } from "@galaxy/contracts";
import { SpanKind } from "@galaxy/observability";
import { isTooDeep } from "./classify-failure";
import { payloadTooDeep } from "./errors";
import { inSendSpan } from "./message-spans";
import type { BusResources } from "./resources";
import type { RequestOptions } from "./types";
import { encodePayload, markGzipped, readJson } from "./payload-encoding";
import { clip } from "./wire";

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Makes a `svc.*` request; a typed error reply is thrown as the `GalaxyError` it carries. No
 * answer (no responder, a timeout, NATS down) is a 503 `service_unavailable`; a payload too
 * deep to serialize is the caller's 400 `payload_too_deep`, before anything is sent. The
 * request is a CLIENT span, child of `options.traceparent` (or of the span active here), and
 * carries it in its headers.
 */
export async function request<N extends RequestName>(r: BusResources, name: N, payload: unknown, options: RequestOptions = {}): Promise<ReplyData<N>> {
  const json = serialize(payload ?? {});
  const h = natsHeaders();
  if (options.claim) h.set(HEADER.claim, options.claim);
  if (options.workspaceId) h.set(HEADER.workspaceId, options.workspaceId);
  h.set(HEADER.correlationId, options.correlationId ?? uuidv7());
  if (options.causationId) h.set(HEADER.causationId, options.causationId);
  if (options.clientIp) h.set(HEADER.clientIp, clip(options.clientIp));
  if (options.userAgent) h.set(HEADER.userAgent, clip(options.userAgent));
  const { data: body, gzipped } = encodePayload(json, r.nc.info?.max_payload);
  if (gzipped) markGzipped(h);
  const subject = r.names.subject(requestSubject(name));
  const reply = await inSendSpan(`send ${name}`, SpanKind.CLIENT, { traceparent: options.traceparent }, subject, { "galaxy.operation": name }, h, async () => {
    try {
      return await r.nc.request(subject, body, { timeout: options.timeoutMs ?? r.options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS, headers: h });
    } catch (error) {
      const what = name.split(".")[0] ?? name;
      throw new UnavailableError(`the ${what} service did not answer`, { cause: error });
    }
  });
  const parsed = readJson(reply.headers, reply.data);
  const envelope = parsed.ok ? ReplyEnvelope.safeParse(parsed.value) : undefined;
  if (!envelope?.success) throw new UnavailableError(`the reply to ${name} was malformed`);
  if (!envelope.data.ok) {
    const e = envelope.data.error;
    throw new GalaxyError(envelope.data.status, e.code, e.message, e.details ? { details: e.details } : {});
  }
  const data = replySchema(name).safeParse(envelope.data.data);
  if (!data.success) throw new UnavailableError(`the reply to ${name} did not match its contract`, { cause: data.error });
  return data.data;
}

/**
 * A request on a subject as given (no prefix added, no envelope): what tests and tools use for
 * JetStream's own API (`$JS.API.…`) or to store a hand-made message and get its ack.
 */
export async function rawRequest(r: BusResources, subject: string, data: string | Uint8Array, options: { headers?: MsgHdrs; timeoutMs?: number } = {}): Promise<Msg> {
  return r.nc.request(subject, data, { timeout: options.timeoutMs ?? r.options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS, ...(options.headers ? { headers: options.headers } : {}) });
}

/** JSON of a payload; one nested too deep to serialize is refused as the caller's error. */
export function serialize(payload: unknown): string {
  try {
    return JSON.stringify(payload);
  } catch (error) {
    if (isTooDeep(error)) throw payloadTooDeep(error);
    throw error;
  }
}

// TypeScript cannot correlate a catalog entry with its key through an indexed access; this
// states the correlation once, for schemas only (never for outside data).
function replySchema<N extends RequestName>(name: N): z.ZodType<ReplyData<N>> {
  return REQUESTS[name].reply as unknown as z.ZodType<ReplyData<N>>;
}
