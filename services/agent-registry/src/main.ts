import { z } from "zod";
import { Bus } from "@galaxy/bus";
import { CommonEnv, parseEnv } from "@galaxy/contracts";
import { createServiceDb } from "@galaxy/db";
import { createLogger, createMetrics, runService, startTelemetry } from "@galaxy/observability";
import { createAgentRegistry } from "./app";
import type { RegistryDb } from "./db";

const Env = CommonEnv.extend({
  AGENT_REGISTRY_PORT: z.coerce.number().int().min(0).max(65535).default(8082),
});

const env = parseEnv(Env);
const service = "agent-registry";
startTelemetry(service);
const logger = createLogger({ service, level: env.LOG_LEVEL });

await runService({
  service,
  logger,
  metrics: createMetrics(service),
  opsPort: env.AGENT_REGISTRY_PORT,
  async start() {
    const db = createServiceDb<RegistryDb>(env.DATABASE_URL, service);
    const bus = await Bus.connect({
      url: env.NATS_URL,
      prefix: env.GALAXY_BUS_PREFIX,
      service,
      user: env.NATS_USER,
      password: env.NATS_PASSWORD,
      logger,
    });
    const registry = createAgentRegistry({ db, bus, logger });
    await registry.start();
    return {
      readiness: () => registry.readiness(),
      async stop() {
        await bus.stopIntake();
        await registry.stop();
        await bus.close();
        await db.destroy();
      },
    };
  },
});
