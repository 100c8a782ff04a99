import { register } from "node:module";
import { serviceOfEntry } from "./service-entry";
import { startTelemetry, telemetryConfigured } from "./telemetry";

// Loaded with `node --import` before a service's own code (`dist/telemetry.js`, which
// bin/service.mjs and `make up` load; docs/operations.md, "Tracing"): OpenTelemetry's
// instrumentations can only patch pg, ioredis, Fastify and undici if they are in place before
// those load. The service is named by its entry point, else by `GALAXY_SERVICE`;
// `OTEL_SERVICE_NAME` overrides both. The ES module hook is registered only when spans are
// exported, so it costs nothing otherwise.
if (telemetryConfigured()) {
  register("@opentelemetry/instrumentation/hook.mjs", import.meta.url);
  await startTelemetry(serviceOfEntry(process.argv[1]) ?? process.env.GALAXY_SERVICE ?? "galaxy");
}
