import {
  context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Link, type Span, type SpanContext, type TextMapGetter, type TextMapSetter,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";

export { context, trace, SpanKind, SpanStatusCode };
export type { Attributes, Context, Link, Span };

/** The W3C trace context of a message or request: what its `traceparent`/`tracestate` headers hold. */
export interface TraceHeaders {
  traceparent?: string | undefined;
  tracestate?: string | undefined;
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

// Galaxy's own headers are W3C trace context whatever global propagator runs, and reading
// them must work before (or without) any SDK.
const w3c = new W3CTraceContextPropagator();

function headerMap(headers: TraceHeaders): HeaderCarrier {
  const map = new Map<string, string>();
  if (headers.traceparent) map.set("traceparent", headers.traceparent);
  if (headers.tracestate) map.set("tracestate", headers.tracestate);
  return { get: (k) => map.get(k), set: (k, v) => map.set(k, v), keys: () => [...map.keys()] };
}

/** The context a message or request's trace headers name as parent; the active one when they name none. */
export function extractContext(carrier: HeaderCarrier, base: Context = context.active()): Context {
  return w3c.extract(base, carrier, getter);
}

/** Writes the trace of `ctx` into `carrier` (`traceparent`, `tracestate`); nothing when it holds no span. */
export function injectContext(carrier: HeaderCarrier, ctx: Context = context.active()): void {
  w3c.inject(ctx, carrier, setter);
}

/** The context whose remote parent the headers name (ROOT when they name none). */
export function contextOf(headers: TraceHeaders): Context {
  return headers.traceparent ? extractContext(headerMap(headers), ROOT_CONTEXT) : ROOT_CONTEXT;
}

/** The trace headers of `ctx`'s span, to store or send on; empty when there is no span. */
export function traceHeadersOf(ctx: Context = context.active()): TraceHeaders {
  const out = headerMap({});
  injectContext(out, ctx);
  return { traceparent: out.get("traceparent"), tracestate: out.get("tracestate") };
}

/** The traceparent of the active span, or undefined outside any trace. */
export function currentTraceparent(ctx: Context = context.active()): string | undefined {
  return traceHeadersOf(ctx).traceparent;
}

/** The trace id of a W3C traceparent; null when it is malformed or the invalid all-zero id. */
export function traceIdOf(traceparent: string): string | null {
  const match = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(traceparent);
  const traceId = match?.[1];
  return traceId && !/^0+$/.test(traceId) ? traceId : null;
}

/**
 * The traceparent that work inside `span` passes on: the span's own ids. Without an SDK the
 * span is the no-op one, carrying its parent's ids, so the incoming trace passes on unchanged;
 * with no parent either, there is none.
 */
export function traceparentOf(span: Span): string | undefined {
  return currentTraceparent(trace.setSpan(ROOT_CONTEXT, span));
}

/** `traceparent` and `tracestate` of `span` (see {@link traceparentOf}). */
export function traceHeadersOfSpan(span: Span): TraceHeaders {
  return traceHeadersOf(trace.setSpan(ROOT_CONTEXT, span));
}

/** The span context a `traceparent` names, for a span link; undefined when it names none. */
export function spanContextOf(traceparent: string | undefined): SpanContext | undefined {
  if (!traceparent) return undefined;
  const sc = trace.getSpanContext(contextOf({ traceparent }));
  return sc && trace.isSpanContextValid(sc) ? sc : undefined;
}

const tracer = () => trace.getTracer("galaxy");

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  links?: Link[];
  /** When the work began, if before now (a step opened earlier). */
  startTime?: Date;
}

/**
 * Starts a span. Its parent is the trace the headers name (a message or request from another
 * process) or, when `parent` is undefined, the span active here.
 */
export function startSpan(name: string, parent: TraceHeaders | undefined, options: SpanOptions = {}): Span {
  const ctx = parent ? contextOf(parent) : context.active();
  const { kind = SpanKind.INTERNAL, attributes = {}, links = [], startTime } = options;
  return tracer().startSpan(name, { kind, attributes, links, ...(startTime ? { startTime } : {}) }, ctx);
}

/** Ends `span` with the outcome of the work it timed. */
export function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  }
  span.end();
}

/**
 * Runs `fn` inside a new span, active for everything `fn` does (database and HTTP calls
 * become its children), recording a failure; `fn` gets the traceparent to send onward.
 * `parent`: see {@link startSpan}. Without an SDK the span records nothing and costs little.
 */
export async function inSpan<T>(name: string, parent: TraceHeaders | undefined, options: SpanOptions, fn: (traceparent: string | undefined, span: Span) => Promise<T>): Promise<T> {
  const span = startSpan(name, parent, options);
  try {
    const result = await context.with(trace.setSpan(parent ? contextOf(parent) : context.active(), span), () => fn(traceparentOf(span), span));
    endSpan(span);
    return result;
  } catch (error) {
    endSpan(span, error);
    throw error;
  }
}
