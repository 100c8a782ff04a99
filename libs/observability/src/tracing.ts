import { context, propagation, trace, type Context, type TextMapGetter, type TextMapSetter } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { NodeSDK } from "@opentelemetry/sdk-node";
import { randomBytes } from "node:crypto";

export { context, trace };
export type { Context };

let sdk: NodeSDK | undefined;

/**
 * Starts OpenTelemetry for the process. Spans are exported where the standard
 * `OTEL_EXPORTER_OTLP_ENDPOINT` says; without it, only context propagation runs, so
 * `traceparent` still links gateway → services → worker → audit.
 */
export function startTelemetry(service: string): void {
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  if (sdk || !process.env.OTEL_EXPORTER_OTLP_ENDPOINT) return;
  sdk = new NodeSDK({ serviceName: service, instrumentations: [] });
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

export function newTraceparent(traceId = randomBytes(16).toString("hex")): string {
  return `00-${traceId}-${randomBytes(8).toString("hex")}-01`;
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
