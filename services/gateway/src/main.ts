import { z } from "zod";
import { Redis } from "ioredis";
import { Bus, busConnection } from "@galaxy/bus";
import { CommonEnv, parseEnv } from "@galaxy/contracts";
import { createServiceDb } from "@galaxy/db";
import { createLogger, createMetrics, runService, startTelemetry } from "@galaxy/observability";
import { buildGateway } from "./app";
import { FINISHED_EXECUTIONS_DEFAULT_MB } from "./routes/finished-executions";
import { oidcSignInFromEnv } from "./auth/oidc-sign-in";
import type { GatewayDb } from "./db";

const Env = CommonEnv.extend({
  GATEWAY_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  GATEWAY_HOST: z.string().default("127.0.0.1"),
  // `/metrics` and the health checks for the orchestrator, off the public port (docs/operations.md).
  GATEWAY_OPS_PORT: z.coerce.number().int().min(0).max(65535).default(8090),
  TRUST_PROXY: z.enum(["true", "false"]).default("false"),
  // Memory for the answers of finished executions read before (docs/operations.md); 0 keeps none.
  GATEWAY_FINISHED_EXECUTIONS_MB: z.preprocess((v) => (v === "" ? undefined : v), z.coerce.number().int().min(0).max(4096).default(FINISHED_EXECUTIONS_DEFAULT_MB)),
  // Deliveries each webhook trigger may make per window (POST /hooks/{triggerId}); past it, 429.
  // Empty is the same as unset (docker-compose passes unset variables as "").
  WEBHOOK_RATE_LIMIT: z.preprocess((v) => (v === "" ? undefined : v), z.coerce.number().int().min(1).default(600)),
  WEBHOOK_RATE_WINDOW_S: z.preprocess((v) => (v === "" ? undefined : v), z.coerce.number().int().min(1).max(86_400).default(60)),
  // The identity provider's webhook secret(s), `whsec_…`, comma-separated during a rotation.
  OIDC_PROVIDER_NAME: z.string().max(60).optional(),
  OIDC_AUTHORIZATION_URL: z.url().or(z.literal("")).optional(),
  OIDC_TOKEN_URL: z.url().or(z.literal("")).optional(),
  OIDC_CLIENT_ID: z.string().max(200).optional(),
  OIDC_SCOPES: z.string().max(500).optional(),
  OIDC_WEBHOOK_SECRET: z.string().regex(/^(whsec_[A-Za-z0-9+/=]+(,whsec_[A-Za-z0-9+/=]+)*)?$/, "must be whsec_<base64>, comma-separated").optional(),
});

const env = parseEnv(Env);
const service = "gateway";
await startTelemetry(service);
const logger = createLogger({ service, level: env.LOG_LEVEL });
const metrics = createMetrics(service);

await runService({
  service,
  logger,
  metrics,
  opsPort: env.GATEWAY_OPS_PORT,
  async start() {
    const db = createServiceDb<GatewayDb>(env.DATABASE_URL, service);
    // Commands issued in one turn of the event loop (every request's rate-limit count) go out
    // in one write (docs/benchmarks.md, "Read path, replay and memory: before and after").
    const redis = new Redis(env.REDIS_URL, { maxRetriesPerRequest: 2, lazyConnect: true, enableAutoPipelining: true });
    await redis.connect();
    const bus = await Bus.connect({ ...busConnection(env), service, logger, metrics });
    const app = await buildGateway({ bus, db, redis, logger, metrics, trustProxy: env.TRUST_PROXY === "true", oidcWebhookSecrets: env.OIDC_WEBHOOK_SECRET ? env.OIDC_WEBHOOK_SECRET.split(",") : [], oidcSignIn: oidcSignInFromEnv(env), webhookRateLimit: { limit: env.WEBHOOK_RATE_LIMIT, windowS: env.WEBHOOK_RATE_WINDOW_S }, finishedExecutionsMb: env.GATEWAY_FINISHED_EXECUTIONS_MB });
    await app.listen({ port: env.GATEWAY_PORT, host: env.GATEWAY_HOST });
    return {
      async readiness() {
        const response = await app.inject({ method: "GET", url: "/health/ready" });
        return { gateway: response.statusCode === 200 };
      },
      async stop() {
        // Stop accepting connections and let in-flight requests finish, then drain NATS.
        await app.close();
        await bus.close();
        redis.disconnect();
        await db.destroy();
      },
    };
  },
});
