import { headers as natsHeaders, type Msg } from "@nats-io/transport-node";
import { HEADER, UnavailableError } from "@galaxy/contracts";
import { SpanKind } from "@galaxy/observability";
import { inSendSpan } from "./message-spans";
import type { BusResources } from "./resources";
import type { StoredEvent } from "./types";
import { encodePayload, markGzipped, readJson } from "./payload-encoding";
import { clip } from "./wire";

/**
 * Publishes a stored event to `EVENTS` with every header of docs/bus.md ("Headers") and
 * resolves once JetStream has it, in a PRODUCER span, child of the span that wrote the event
 * (its stored `traceparent`), whose context the message carries. The NATS publish happens synchronously on call, so calling
 * this for several events keeps their order.
 */
export async function publishEvent(r: BusResources, event: StoredEvent, extra: { replayId?: string } = {}): Promise<void> {
  const h = natsHeaders();
  h.set(HEADER.workspaceId, event.workspaceId);
  h.set(HEADER.claim, event.context.claim);
  h.set(HEADER.msgId, event.id);
  h.set(HEADER.correlationId, event.context.correlationId);
  h.set(HEADER.causationId, event.context.causationId);
  h.set(HEADER.eventType, event.type);
  h.set(HEADER.schemaVersion, String(event.schemaVersion));
  if (event.context.clientIp) h.set(HEADER.clientIp, clip(event.context.clientIp));
  if (event.context.userAgent) h.set(HEADER.userAgent, clip(event.context.userAgent));
  if (extra.replayId) h.set(HEADER.replayId, extra.replayId);
  const subject = r.names.subject(`evt.${event.workspaceId}.${event.type}`);
  // Before the span: an event too large for the server even gzipped is refused as such, not as the bus being down.
  const { data, gzipped } = encodePayload(JSON.stringify(event.payload), r.nc.info?.max_payload);
  if (gzipped) markGzipped(h);
  const attributes = { "messaging.message.id": event.id, "galaxy.event.type": event.type };
  await inSendSpan(`publish ${event.type}`, SpanKind.PRODUCER, event.context, subject, attributes, h, async () => {
    try {
      await r.js.publish(subject, data, { msgID: event.id, headers: h });
    } catch (error) {
      throw new UnavailableError("the event bus did not acknowledge the event", { cause: error });
    }
  });
  // After the acknowledgement: an event counted is one the other services will see.
  r.events.observe(event.payload);
}

/** Publishes on core NATS only (live token deltas, signals): nothing is stored. */
export function publishCore(r: BusResources, subject: string, payload: unknown): void {
  const { data, gzipped } = encodePayload(JSON.stringify(payload), r.nc.info?.max_payload);
  r.nc.publish(r.names.subject(subject), data, gzipped ? { headers: markGzipped(natsHeaders()) } : undefined);
}

/**
 * Subscribes on core NATS (every instance sees every message), e.g. for cache invalidation.
 * The handle ends the subscription early (an SSE stream whose client left); otherwise it
 * lasts until the bus closes.
 */
export function subscribeCore(r: BusResources, subject: string, handler: (data: unknown, subject: string) => void): { unsubscribe(): void } {
  return watch(r, subject, (msg) => {
    const data = readJson(msg.headers, msg.data);
    if (data.ok) handler(data.value, r.names.unprefixed(msg.subject));
  });
}

/**
 * Sees every message on a core subject (without the prefix) as NATS delivers it, headers
 * and all: what tests and tools look at on the wire. A stream's subjects can be watched too.
 */
export function watch(r: BusResources, subject: string, handler: (msg: Msg) => void): { unsubscribe(): void } {
  const sub = r.nc.subscribe(r.names.subject(subject), {
    callback: (error, msg) => {
      if (error) return;
      // The NATS client calls this inside its protocol reader: an exception escaping here
      // would stop the connection from reading anything more.
      try {
        handler(msg);
      } catch (handlerError) {
        r.logger.error({ err: handlerError, subject: msg.subject }, "core subscription handler failed");
      }
    },
  });
  r.running.subscriptions.push(sub);
  return {
    unsubscribe: () => {
      r.running.forget(sub);
      sub.unsubscribe();
    },
  };
}
