export { createLogger, REDACT_PATHS } from "./logger";
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
export {
  startTelemetry, stopTelemetry, extractContext, injectContext, currentTraceparent, newTraceparent, childTraceparent, traceIdOf,
  traceparentOf, startSpan, inSpan, context, trace, SpanKind,
} from "./tracing";
export type { HeaderCarrier, Context, Span } from "./tracing";
export { startOpsServer } from "./ops-server";
export type { OpsServer, OpsServerOptions } from "./ops-server";
export { runService } from "./lifecycle";
export type { RunningService, RunOptions } from "./lifecycle";
