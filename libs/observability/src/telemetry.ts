import { propagation } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import type { NodeSDK } from "@opentelemetry/sdk-node";

// One SDK per process, even when two bundles hold this file (the preload's and the service's).
const SDK = Symbol.for("galaxy.telemetry.sdk");
const slot = globalThis as { [SDK]?: NodeSDK | undefined };

/**
 * Whether this process exports spans: an OTLP endpoint is configured (all signals or traces
 * alone) and `OTEL_SDK_DISABLED` does not say otherwise. Everything else the exporter needs
 * (protocol, headers, sampler, batch delays) the SDK reads from the standard OTEL_* variables
 * itself (docs/operations.md, "Tracing").
 */
export function telemetryConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/**
 * Starts OpenTelemetry for the process when an exporter is configured: the SDK, with the
 * instrumentations of Fastify, node:http, undici (fetch), pg and ioredis. Without one no SDK
 * runs and the API stays a no-op; a trace that arrives on a request or a message is still
 * passed on unchanged. Called again, it does nothing. The instrumentations patch modules as
 * they load, so services start it before anything else (`preload.ts`). The SDK and the
 * instrumentations (about 28 MiB resident) are loaded only when spans are exported.
 */
export async function startTelemetry(service: string): Promise<void> {
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  if (slot[SDK] || !telemetryConfigured()) return;
  const [{ NodeSDK: Sdk }, { FastifyOtelInstrumentation }, { HttpInstrumentation }, { IORedisInstrumentation }, { PgInstrumentation }, { UndiciInstrumentation }] = await Promise.all([
    import("@opentelemetry/sdk-node"),
    import("@fastify/otel"),
    import("@opentelemetry/instrumentation-http"),
    import("@opentelemetry/instrumentation-ioredis"),
    import("@opentelemetry/instrumentation-pg"),
    import("@opentelemetry/instrumentation-undici"),
  ]);
  if (slot[SDK]) return;
  const sdk = new Sdk({
    // OTEL_SERVICE_NAME, when set, names the service; the SDK reads it.
    ...(process.env.OTEL_SERVICE_NAME ? {} : { serviceName: service }),
    instrumentations: [
      // Probes and scrapes (every few seconds, on every service) are no one's trace.
      new HttpInstrumentation({ ignoreIncomingRequestHook: (request) => isProbe(request.url) }),
      new UndiciInstrumentation(),
      new FastifyOtelInstrumentation({ registerOnInitialization: true, ignorePaths: (opts) => isProbe(opts.url) }),
      new PgInstrumentation({ requireParentSpan: true }),
      new IORedisInstrumentation({ requireParentSpan: true }),
    ],
  });
  sdk.start();
  slot[SDK] = sdk;
}

function isProbe(url: string | undefined): boolean {
  return url !== undefined && (url.startsWith("/health") || url.startsWith("/metrics"));
}

/** Flushes the spans not exported yet and stops the SDK (on shutdown). */
export async function stopTelemetry(): Promise<void> {
  const sdk = slot[SDK];
  slot[SDK] = undefined;
  await sdk?.shutdown();
}
