import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { Redis } from "ioredis";
import { importJWK, SignJWT, type JWTPayload } from "jose";
import type { Bus } from "@galaxy/bus";
import { createDb, sql, type Kysely } from "@galaxy/db";
import { createMetrics, type Registry } from "@galaxy/observability";
import { connectTestBus, createTestEnv, serviceDb, testLogger, type EngineUrls, type TestEnv } from "@galaxy/testkit";
import { startDevModel, type RunningDevModel } from "@galaxy/dev-model/testing";
import { createIdentity, type IdentityService, type OidcConfig } from "@galaxy/identity";
import { createAgentRegistry, scheduleQueueName } from "@galaxy/agent-registry";
import { createExecutionWorker, type ExecutionWorkerConfig } from "@galaxy/execution-worker";
import { createAudit } from "@galaxy/audit";
import { API_RATE_LIMITS, buildGateway, type ApiRateLimitOptions, type OidcSignIn } from "@galaxy/gateway";
import { SecretBox } from "@galaxy/secrets";

/** Galaxy as a whole, in this process, on a test's own database, bus prefix and ports. */
export interface Galaxy {
  env: TestEnv;
  /** The gateway's base URL. */
  url: string;
  gateway: FastifyInstance;
  /** An extra bus connection for tests to watch and poke the bus. */
  observer: Bus;
  /** The dev model server the worker calls (its `/_control` switches: latency, failNext). */
  devModel: RunningDevModel;
  /** Each service's metrics registry, as its ops port's `/metrics` serves it. */
  metrics: Record<"identity" | "agent-registry" | "execution-worker" | "audit" | "gateway", Registry>;
  stop(): Promise<void>;
}

interface Stoppable {
  stop(): Promise<void>;
}

/** Optional configuration for the services a test starts. */
export interface GalaxyOptions {
  /** The external OIDC issuer identity accepts at `POST /api/auth/exchange`. */
  oidc?: OidcConfig;
  /** The gateway's browser sign-in with the OIDC provider (`OIDC_AUTHORIZATION_URL`, …). */
  oidcSignIn?: OidcSignIn;
  /** The gateway's `OIDC_WEBHOOK_SECRET`s for `POST /hooks/identity/clerk`. */
  oidcWebhookSecrets?: readonly string[];
  /** More execution-worker configuration (e.g. `outboundHostAllowlist`, `maxRetries`). */
  worker?: Partial<ExecutionWorkerConfig>;
  /** Deliveries per trigger per window on `POST /hooks/{triggerId}` (default 600 a minute). */
  webhookRateLimit?: { limit: number; windowS: number };
  /** `/api/*` rate limits (default: the product's, a hundredfold: tests send far faster than a client would). */
  apiRateLimit?: ApiRateLimitOptions;
  /** The Redis the gateway counts rate limits in (default: the test's own), e.g. one a test stops. */
  gatewayRedisUrl?: string;
}

const TEST_API_RATE_LIMIT: ApiRateLimitOptions = {
  windowS: API_RATE_LIMITS.windowS,
  tiers: {
    free: { workspace: API_RATE_LIMITS.tiers.free.workspace * 100, credential: API_RATE_LIMITS.tiers.free.credential * 100 },
    pro: { workspace: API_RATE_LIMITS.tiers.pro.workspace * 100, credential: API_RATE_LIMITS.tiers.pro.credential * 100 },
    enterprise: { workspace: API_RATE_LIMITS.tiers.enterprise.workspace * 100, credential: API_RATE_LIMITS.tiers.enterprise.credential * 100 },
  },
};

/**
 * Starts the dev model server and the five services, each with its own NATS connection and
 * database role, as `make up` runs them as processes.
 */
export async function startGalaxy(engines: EngineUrls, options: GalaxyOptions = {}): Promise<Galaxy> {
  const env = await createTestEnv(engines);
  const devModel = await startDevModel();
  const cleanups: Array<() => Promise<void>> = [];
  const dbs: Array<Kysely<unknown>> = [];
  const buses: Bus[] = [];
  const services: Stoppable[] = [];
  const metrics: Galaxy["metrics"] = {
    identity: createMetrics("identity"),
    "agent-registry": createMetrics("agent-registry"),
    "execution-worker": createMetrics("execution-worker"),
    audit: createMetrics("audit"),
    gateway: createMetrics("gateway"),
  };

  const db = <DB>(service: Parameters<typeof serviceDb>[1]): Kysely<DB> => {
    const instance = serviceDb<DB>(env, service);
    dbs.push(instance as Kysely<unknown>);
    return instance;
  };

  let identity: IdentityService | undefined;
  const identityBus = await connectTestBus(env, "identity", {
    metrics: metrics.identity,
    loadJwks: async () => {
      if (!identity) throw new Error("identity not started");
      return identity.keys.publicJwks();
    },
    issueServiceClaim: async (ws) => {
      if (!identity) throw new Error("identity not started");
      return identity.auth.issueServiceClaim(ws, "identity");
    },
  });
  buses.push(identityBus);
  identity = createIdentity({ db: db(/* identity */ "identity"), bus: identityBus, logger: testLogger("identity"), masterKey: env.masterKey, oidc: options.oidc });
  await identity.start();
  services.push(identity);

  const registryBus = await connectTestBus(env, "agent-registry", { metrics: metrics["agent-registry"] });
  buses.push(registryBus);
  const registry = createAgentRegistry({
    db: db("agent-registry"),
    bus: registryBus,
    logger: testLogger("agent-registry"),
    masterKey: env.masterKey,
    // Schedule triggers tick through BullMQ on the test's own queue and Redis keys.
    schedules: { redisUrl: env.redisUrl, queueName: scheduleQueueName(env.busPrefix), keyPrefix: `${env.redisPrefix}bull` },
    // Knowledge documents are embedded by the dev model server, as without OPENAI_API_KEY or GOOGLE_API_KEY.
    knowledge: { openaiApiKey: "galaxy-dev", openaiBaseUrl: `${devModel.url}/v1`, googleApiKey: "galaxy-dev", googleBaseUrl: devModel.url },
  });
  await registry.start();
  services.push(registry);

  const workerBus = await connectTestBus(env, "execution-worker", { metrics: metrics["execution-worker"] });
  buses.push(workerBus);
  const worker = createExecutionWorker({
    db: db("execution-worker"),
    bus: workerBus,
    logger: testLogger("execution-worker"),
    config: { openaiApiKey: "galaxy-dev", openaiBaseUrl: `${devModel.url}/v1`, anthropicApiKey: "galaxy-dev", anthropicBaseUrl: devModel.url, googleApiKey: "galaxy-dev", googleBaseUrl: devModel.url, masterKey: env.masterKey, ...options.worker },
  });
  await worker.start();
  services.push(worker);

  const auditBus = await connectTestBus(env, "audit", { metrics: metrics["audit"] });
  buses.push(auditBus);
  const audit = createAudit({ db: db("audit"), bus: auditBus, logger: testLogger("audit") });
  await audit.start();
  services.push(audit);

  const gatewayBus = await connectTestBus(env, "gateway", { metrics: metrics["gateway"] });
  buses.push(gatewayBus);
  const redis = new Redis(options.gatewayRedisUrl ?? env.redisUrl, { keyPrefix: env.redisPrefix, lazyConnect: true, enableAutoPipelining: true });
  // A test may stop this Redis; the gateway answers 503 then, and ioredis reconnects by itself.
  redis.on("error", () => undefined);
  await redis.connect();
  cleanups.push(async () => redis.disconnect());
  const gateway = await buildGateway({ bus: gatewayBus, db: db("gateway"), redis, logger: testLogger("gateway"), metrics: metrics.gateway, oidcWebhookSecrets: options.oidcWebhookSecrets ?? [], oidcSignIn: options.oidcSignIn, apiRateLimit: options.apiRateLimit ?? TEST_API_RATE_LIMIT, ...(options.webhookRateLimit ? { webhookRateLimit: options.webhookRateLimit } : {}) });
  await gateway.listen({ port: 0, host: "127.0.0.1" });
  const address = gateway.server.address();
  const port = typeof address === "object" && address ? address.port : 0;

  const observer = await connectTestBus(env, "observer");
  buses.push(observer);
  // Every handler is known to the server before the test's first request.
  for (const bus of buses) await bus.flush();

  return {
    env,
    url: `http://127.0.0.1:${port}`,
    gateway,
    observer,
    devModel,
    metrics,
    async stop() {
      await gateway.close();
      for (const bus of buses) await bus.stopIntake();
      for (const service of services.reverse()) await service.stop();
      for (const bus of buses) await bus.close();
      for (const cleanup of cleanups) await cleanup();
      for (const instance of dbs) await instance.destroy();
      await devModel.close();
      await env.cleanup();
    },
  };
}

export interface ApiResponse {
  status: number;
  body: unknown;
  headers: Headers;
}

/** A JSON call to the gateway; the body is left unparsed for the test to check against a schema. */
export async function api(galaxy: Galaxy, method: string, path: string, options: { token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<ApiResponse> {
  const response = await fetch(`${galaxy.url}${path}`, {
    method,
    headers: {
      ...(options.body !== undefined ? { "content-type": "application/json" } : {}),
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    ...(options.body !== undefined ? { body: typeof options.body === "string" ? options.body : JSON.stringify(options.body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null, headers: response.headers };
}

/** Parses `{data: …}` of a response with the contract's schema, failing the test with the body if it does not match. */
export function dataOf<S extends z.ZodType>(schema: S, response: ApiResponse): z.infer<S> {
  const envelope = z.object({ data: z.unknown() }).safeParse(response.body);
  const parsed = schema.safeParse(envelope.success ? envelope.data.data : undefined);
  if (!parsed.success) throw new Error(`unexpected ${response.status} body: ${JSON.stringify(response.body)}\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** Polls `check` until it returns a value (not undefined) or the time is up. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 10_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Signs any header and payload with identity's active signing key. */
export interface IdentitySigner {
  /** The active key's id, as the JWKS publishes it. */
  kid: string;
  /** A compact JWS over `payload`; `header` is merged over `{alg: "EdDSA", kid}`. */
  sign(header: Record<string, unknown>, payload: JWTPayload): Promise<string>;
}

/**
 * Identity's active signing key, read from the test's own database (as the superuser) and
 * opened with the test's master key: for attacks that need a genuine signature on a token
 * identity would never issue (expired, wrong audience, issuer or `typ`).
 */
export async function identitySigner(galaxy: Galaxy): Promise<IdentitySigner> {
  const db = createDb<unknown>({ connectionString: galaxy.env.databaseUrl, max: 1 });
  try {
    const rows = await sql<{ kid: string; private_jwk_ciphertext: string }>`select kid, private_jwk_ciphertext from identity.signing_keys where status = 'active'`.execute(db);
    const row = rows.rows[0];
    if (!row || rows.rows.length !== 1) throw new Error(`expected one active signing key, found ${rows.rows.length}`);
    const jwk = z.object({ kty: z.string(), crv: z.string(), x: z.string(), d: z.string() }).parse(JSON.parse(new SecretBox(galaxy.env.masterKey).open(row.private_jwk_ciphertext)));
    const key = await importJWK(jwk, "EdDSA");
    return {
      kid: row.kid,
      sign: (header, payload) => new SignJWT(payload).setProtectedHeader({ alg: "EdDSA", kid: row.kid, ...header }).sign(key),
    };
  } finally {
    await db.destroy();
  }
}
