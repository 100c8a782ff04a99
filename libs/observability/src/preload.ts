import { register } from "node:module";
import { startTelemetry, telemetryConfigured } from "./telemetry";

/**
 * Loaded with `node --import` before a service's own code (bin/service.mjs does it for the
 * compiled programs): OpenTelemetry's instrumentations can only patch pg, ioredis, Fastify and
 * undici if they are in place before those load. `GALAXY_SERVICE` names the service.
 * The ES module hook is registered only when spans are exported, so it costs nothing otherwise.
 */
if (telemetryConfigured()) {
  register("@opentelemetry/instrumentation/hook.mjs", import.meta.url);
  startTelemetry(process.env.GALAXY_SERVICE ?? "galaxy");
}
