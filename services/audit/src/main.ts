import { z } from "zod";
import { Bus } from "@galaxy/bus";
import { CommonEnv, parseEnv } from "@galaxy/contracts";
import { createServiceDb } from "@galaxy/db";
import { createLogger, createMetrics, runService, startTelemetry } from "@galaxy/observability";
import { createAudit } from "./app";
import type { AuditDb } from "./db";

const Env = CommonEnv.extend({
  AUDIT_PORT: z.coerce.number().int().min(0).max(65535).default(8084),
});

const env = parseEnv(Env);
const service = "audit";
startTelemetry(service);
const logger = createLogger({ service, level: env.LOG_LEVEL });

await runService({
  service,
  logger,
  metrics: createMetrics(service),
  opsPort: env.AUDIT_PORT,
  async start() {
    const db = createServiceDb<AuditDb>(env.DATABASE_URL, service);
    const bus = await Bus.connect({
      url: env.NATS_URL,
      prefix: env.GALAXY_BUS_PREFIX,
      service,
      user: env.NATS_USER,
      password: env.NATS_PASSWORD,
      logger,
    });
    const audit = createAudit({ db, bus, logger });
    await audit.start();
    return {
      readiness: () => audit.readiness(),
      async stop() {
        await bus.stopIntake();
        await audit.stop();
        await bus.close();
        await db.destroy();
      },
    };
  },
});
