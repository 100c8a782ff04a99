export { createLogger, lazyChild, REDACT_PATHS } from "./logger";
export type { Logger, LoggerOptions } from "./logger";
export { createMetrics, Counter, Gauge, Histogram, Registry } from "./metrics";
export { consumerMetrics } from "./consumer-metrics";
export type { ConsumerMetrics, DeadLetterCause } from "./consumer-metrics";
export { eventMetrics } from "./event-metrics";
export { observeIntake } from "./intake-metrics";
export { outboxBacklog } from "./outbox-metrics";
export { callbackDeliveries, callbackOutcome } from "./callback-metrics";
export type { CallbackOutcome } from "./callback-metrics";
export type { EventMetrics } from "./event-metrics";
export { startTelemetry, stopTelemetry, telemetryConfigured } from "./telemetry";
export {
  extractContext, injectContext, contextOf, traceHeadersOf, currentTraceparent, traceIdOf, traceparentOf, traceHeadersOfSpan, spanContextOf, startSpan, endSpan, inSpan,
  context, trace, SpanKind, SpanStatusCode,
} from "./tracing";
export type { HeaderCarrier, TraceHeaders, SpanOptions, Attributes, Context, Link, Span } from "./tracing";
export { modelCallAttributes, toolCallAttributes } from "./gen-ai";
export { startOpsServer } from "./ops-server";
export type { OpsServer, OpsServerOptions } from "./ops-server";
export { runService } from "./lifecycle";
export type { RunningService, RunOptions } from "./lifecycle";
