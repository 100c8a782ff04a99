import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type TextMapGetter, type TextMapSetter } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import type { NodeSDK } from "@opentelemetry/sdk-node";
import { randomFillSync } from "node:crypto";

export { context, trace, SpanKind };
export type { Context, Span };

let sdk: NodeSDK | undefined;

/**
 * Starts OpenTelemetry for the process. Spans are exported where the standard
 * `OTEL_EXPORTER_OTLP_ENDPOINT` says; without it, only context propagation runs, so
 * `traceparent` still links gateway → services → worker → audit. The SDK (and the exporters it
 * brings, several megabytes of modules) is loaded only when there is somewhere to export to.
 */
export async function startTelemetry(service: string): Promise<void> {
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  if (sdk || !process.env.OTEL_EXPORTER_OTLP_ENDPOINT) return;
  const { NodeSDK: Sdk } = await import("@opentelemetry/sdk-node");
  sdk = new Sdk({ serviceName: service, instrumentations: [] });
  sdk.start();
}

export async function stopTelemetry(): Promise<void> {
  await sdk?.shutdown();
  sdk = undefined;
}

/** A minimal string map view of message headers, for the propagator. */
export interface HeaderCarrier {
  get(name: string): string | undefined;
  set(name: string, value: string): void;
  keys(): string[];
}

const getter: TextMapGetter<HeaderCarrier> = {
  get: (carrier, key) => carrier.get(key),
  keys: (carrier) => carrier.keys(),
};
const setter: TextMapSetter<HeaderCarrier> = { set: (carrier, key, value) => carrier.set(key, value) };

export function extractContext(carrier: HeaderCarrier): Context {
  return propagation.extract(context.active(), carrier, getter);
}

export function injectContext(carrier: HeaderCarrier, ctx: Context = context.active()): void {
  propagation.inject(ctx, carrier, setter);
}

/**
 * The traceparent to send on: the active span's when there is one, else a fresh root, so
 * every message carries one even when no exporter runs.
 */
export function currentTraceparent(ctx: Context = context.active()): string {
  const span = trace.getSpanContext(ctx);
  if (span && trace.isSpanContextValid(span)) {
    return `00-${span.traceId}-${span.spanId}-${span.traceFlags.toString(16).padStart(2, "0")}`;
  }
  return newTraceparent();
}

export function newTraceparent(traceId = randomHex(16)): string {
  return `00-${traceId}-${randomHex(8)}-01`;
}

// Random bytes for trace and span ids, drawn from a pool filled 4 KiB at a time: one
// `randomBytes` call per id (several per message) was a measurable share of the bus's CPU.
const RANDOM_POOL = Buffer.alloc(4096);
let randomOffset = RANDOM_POOL.length;

function randomHex(bytes: number): string {
  if (randomOffset + bytes > RANDOM_POOL.length) {
    randomFillSync(RANDOM_POOL);
    randomOffset = 0;
  }
  const hex = RANDOM_POOL.toString("hex", randomOffset, randomOffset + bytes);
  randomOffset += bytes;
  return hex;
}

/** A child of `parent`: same trace, new span id. */
export function childTraceparent(parent: string | undefined): string {
  const traceId = parent ? traceIdOf(parent) : null;
  return newTraceparent(traceId ?? undefined);
}

/** The trace id of a W3C traceparent; null when it is malformed or the invalid all-zero id. */
export function traceIdOf(traceparent: string): string | null {
  const match = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(traceparent);
  const traceId = match?.[1];
  return traceId && !/^0+$/.test(traceId) ? traceId : null;
}

const tracer = () => trace.getTracer("galaxy");

/** A context whose remote parent is `parent`; read directly so it works before any SDK starts. */
function contextOf(parent: string | undefined): Context {
  const match = parent ? /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(parent) : null;
  if (!match?.[1] || !match[2] || !match[3] || /^0+$/.test(match[1])) return context.active();
  return trace.setSpanContext(context.active(), { traceId: match[1], spanId: match[2], traceFlags: Number.parseInt(match[3], 16), isRemote: true });
}

/**
 * The traceparent that work inside `span` passes on: the span's own ids when a tracer records
 * it (so the next service's span is its child), else a new span id in the parent's trace.
 */
export function traceparentOf(span: Span, parent: string | undefined): string {
  if (span.isRecording()) {
    const sc = span.spanContext();
    return `00-${sc.traceId}-${sc.spanId}-${sc.traceFlags.toString(16).padStart(2, "0")}`;
  }
  return childTraceparent(parent);
}

/** Starts a span whose parent is the traceparent of an incoming request or message. */
export function startSpan(name: string, parent: string | undefined, kind: SpanKind, attributes: Attributes = {}): Span {
  return tracer().startSpan(name, { kind, attributes }, contextOf(parent));
}

/**
 * Runs `fn` inside a span that continues `parent`, recording failures; `fn` gets the
 * traceparent to send onward. Without an exporter the span records nothing and costs little.
 */
export async function inSpan<T>(name: string, parent: string | undefined, kind: SpanKind, attributes: Attributes, fn: (traceparent: string) => Promise<T>): Promise<T> {
  const span = startSpan(name, parent, kind, attributes);
  try {
    const result = await context.with(trace.setSpan(context.active(), span), () => fn(traceparentOf(span, parent)));
    span.setStatus({ code: SpanStatusCode.OK });
    return result;
  } catch (error) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw error;
  } finally {
    span.end();
  }
}
