import type { MsgHdrs } from "@nats-io/transport-node";
import { context, endSpan, inSpan, injectContext, spanContextOf, SpanKind, startSpan, trace, traceHeadersOfSpan, type Attributes, type HeaderCarrier, type Span, type TraceHeaders } from "@galaxy/observability";
import type { EventMessage } from "./types";

/**
 * The spans of the bus, after OpenTelemetry's messaging semantic conventions (docs/bus.md,
 * "Headers"): a PRODUCER span per event published and a CONSUMER span per event applied; a
 * CLIENT span per request sent and a SERVER span per request served. The producing side
 * writes its span into `traceparent`/`tracestate`, so the consuming span is its child.
 */

/** NATS headers as the propagator sees them. */
export function carrierOf(h: MsgHdrs): HeaderCarrier {
  return { get: (k) => h.get(k) || undefined, set: (k, v) => h.set(k, v), keys: () => h.keys() };
}

function messagingAttributes(operation: "send" | "receive" | "process", subject: string, extra: Attributes): Attributes {
  return { "messaging.system": "nats", "messaging.operation.type": operation, "messaging.destination.name": subject, ...extra };
}

/** Runs `send` in a PRODUCER (event) or CLIENT (request) span whose context `h` then carries. */
export async function inSendSpan<T>(name: string, kind: SpanKind.PRODUCER | SpanKind.CLIENT, parent: TraceHeaders, subject: string, attributes: Attributes, h: MsgHdrs, send: () => Promise<T>): Promise<T> {
  return inSpan(name, parent.traceparent ? parent : undefined, { kind, attributes: messagingAttributes("send", subject, attributes) }, async (_traceparent, span) => {
    // The span itself, not the active context: without an SDK no context manager runs.
    injectContext(carrierOf(h), trace.setSpan(context.active(), span));
    return send();
  });
}

/** Runs a consumer's handler on one event in a CONSUMER span, child of the span that published it. */
export async function inApplySpan(message: EventMessage, consumer: string, attributes: Attributes, apply: (traceparent: string | undefined, span: Span) => Promise<void>): Promise<void> {
  const attrs = applyAttributes(message, consumer, attributes);
  await inSpan(`process ${message.event.type}`, message.headers, { kind: SpanKind.CONSUMER, attributes: attrs }, apply);
}

/** The message handed to a consumer's handler, its derived events continuing the CONSUMER span (and its `tracestate`). */
export function continuing(message: EventMessage, span: Span): EventMessage {
  const { traceparent, tracestate } = traceHeadersOfSpan(span);
  return { ...message, derivedContext: (claim) => ({ ...message.derivedContext(claim), traceparent, tracestate }) };
}

/**
 * Runs a batch consumer's handler on `messages` (docs/bus.md, "Tracing a batch"): each event
 * gets a CONSUMER span, child of the span that published it, so every trace shows the event
 * applied, and none has a parent that was never exported. The handler's own work (one
 * transaction for all) runs inside the first event's span, which links to the others.
 */
export async function inBatchSpans(messages: EventMessage[], consumer: string, apply: () => Promise<void>): Promise<void> {
  const [first, ...others] = messages;
  if (!first) return;
  const links = others.flatMap((m) => {
    const sc = spanContextOf(m.headers.traceparent);
    return sc ? [{ context: sc }] : [];
  });
  const spans = others.map((m) => startSpan(`process ${m.event.type}`, m.headers, { kind: SpanKind.CONSUMER, attributes: applyAttributes(m, consumer, { "messaging.batch.message_count": messages.length }) }));
  try {
    await inSpan(`process ${first.event.type}`, first.headers, { kind: SpanKind.CONSUMER, attributes: applyAttributes(first, consumer, { "messaging.batch.message_count": messages.length }), links }, apply);
    for (const span of spans) endSpan(span);
  } catch (error) {
    for (const span of spans) endSpan(span, error);
    throw error;
  }
}

function applyAttributes(message: EventMessage, consumer: string, extra: Attributes): Attributes {
  return messagingAttributes("process", message.subject, {
    "messaging.consumer.group.name": consumer,
    "messaging.message.id": message.event.id,
    "galaxy.event.type": message.event.type,
    ...extra,
  });
}
