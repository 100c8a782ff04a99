import { context, trace, type Context } from "@opentelemetry/api";

/**
 * `trace_id` and `span_id` of the span active in `ctx`, for a log line written inside it
 * (a pino mixin): the line and the trace find each other in the backend. Outside a span, or
 * with no tracer recording, nothing: a lookup in the active context, no allocation.
 */
export function traceFields(ctx: Context = context.active()): { trace_id?: string; span_id?: string } {
  const span = trace.getSpan(ctx);
  if (!span) return {};
  const sc = span.spanContext();
  if (!trace.isSpanContextValid(sc)) return {};
  return { trace_id: sc.traceId, span_id: sc.spanId };
}
