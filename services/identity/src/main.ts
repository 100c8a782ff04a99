import { z } from "zod";
import { Bus } from "@galaxy/bus";
import { CommonEnv, parseEnv } from "@galaxy/contracts";
import { createServiceDb } from "@galaxy/db";
import { createLogger, createMetrics, runService, startTelemetry } from "@galaxy/observability";
import { createIdentity, type IdentityService } from "./app";
import type { IdentityDb } from "./db";

const Env = CommonEnv.extend({
  IDENTITY_PORT: z.coerce.number().int().min(0).max(65535).default(8081),
  GALAXY_MASTER_KEY: z.string().min(1, "is required (32 bytes, base64); `make up` generates one"),
});

const env = parseEnv(Env);
const service = "identity";
startTelemetry(service);
const logger = createLogger({ service, level: env.LOG_LEVEL });

await runService({
  service,
  logger,
  metrics: createMetrics(service),
  opsPort: env.IDENTITY_PORT,
  async start() {
    const db = createServiceDb<IdentityDb>(env.DATABASE_URL, service);
    let identity: IdentityService | undefined;
    const bus = await Bus.connect({
      url: env.NATS_URL,
      prefix: env.GALAXY_BUS_PREFIX,
      service,
      user: env.NATS_USER,
      password: env.NATS_PASSWORD,
      logger,
      // Identity verifies claims with its own keys rather than asking itself over the bus.
      loadJwks: async () => {
        if (!identity) throw new Error("identity is not started");
        return identity.keys.publicJwks();
      },
      issueServiceClaim: async (workspaceId) => {
        if (!identity) throw new Error("identity is not started");
        return identity.auth.issueServiceClaim(workspaceId, service);
      },
    });
    identity = createIdentity({ db, bus, logger, masterKey: env.GALAXY_MASTER_KEY });
    await identity.start();
    const running = identity;
    return {
      readiness: () => running.readiness(),
      async stop() {
        await bus.stopIntake();
        await running.stop();
        await bus.close();
        await db.destroy();
      },
    };
  },
});
