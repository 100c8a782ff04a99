import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { Redis } from "ioredis";
import type { Bus } from "@galaxy/bus";
import type { Kysely } from "@galaxy/db";
import { createMetrics } from "@galaxy/observability";
import { connectTestBus, createTestEnv, serviceDb, testLogger, type EngineUrls, type TestEnv } from "@galaxy/testkit";
import { startDevModel } from "@galaxy/dev-model";
import { createIdentity, type IdentityService } from "../../services/identity/src/app";
import { createAgentRegistry } from "../../services/agent-registry/src/app";
import { createExecutionWorker } from "../../services/execution-worker/src/app";
import { createAudit } from "../../services/audit/src/app";
import { buildGateway } from "../../services/gateway/src/app";

/** Galaxy as a whole, in this process, on a test's own database, bus prefix and ports. */
export interface Galaxy {
  env: TestEnv;
  /** The gateway's base URL. */
  url: string;
  gateway: FastifyInstance;
  /** An extra bus connection for tests to watch and poke the bus. */
  observer: Bus;
  stop(): Promise<void>;
}

interface Stoppable {
  stop(): Promise<void>;
}

/**
 * Starts the dev model server and the five services, each with its own NATS connection and
 * database role, as `make up` runs them as processes.
 */
export async function startGalaxy(engines: EngineUrls): Promise<Galaxy> {
  const env = await createTestEnv(engines);
  const devModel = await startDevModel();
  const cleanups: Array<() => Promise<void>> = [];
  const dbs: Array<Kysely<unknown>> = [];
  const buses: Bus[] = [];
  const services: Stoppable[] = [];

  const db = <DB>(service: Parameters<typeof serviceDb>[1]): Kysely<DB> => {
    const instance = serviceDb<DB>(env, service);
    dbs.push(instance as Kysely<unknown>);
    return instance;
  };

  let identity: IdentityService | undefined;
  const identityBus = await connectTestBus(env, "identity", {
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
  identity = createIdentity({ db: db(/* identity */ "identity"), bus: identityBus, logger: testLogger("identity"), masterKey: env.masterKey });
  await identity.start();
  services.push(identity);

  const registryBus = await connectTestBus(env, "agent-registry");
  buses.push(registryBus);
  const registry = createAgentRegistry({ db: db("agent-registry"), bus: registryBus, logger: testLogger("agent-registry") });
  await registry.start();
  services.push(registry);

  const workerBus = await connectTestBus(env, "execution-worker");
  buses.push(workerBus);
  const worker = createExecutionWorker({
    db: db("execution-worker"),
    bus: workerBus,
    logger: testLogger("execution-worker"),
    config: { openaiApiKey: "galaxy-dev", openaiBaseUrl: `${devModel.url}/v1`, anthropicApiKey: "galaxy-dev", anthropicBaseUrl: devModel.url },
  });
  await worker.start();
  services.push(worker);

  const auditBus = await connectTestBus(env, "audit");
  buses.push(auditBus);
  const audit = createAudit({ db: db("audit"), bus: auditBus, logger: testLogger("audit") });
  await audit.start();
  services.push(audit);

  const gatewayBus = await connectTestBus(env, "gateway");
  buses.push(gatewayBus);
  const redis = new Redis(env.redisUrl, { keyPrefix: env.redisPrefix, lazyConnect: true });
  await redis.connect();
  cleanups.push(async () => redis.disconnect());
  const gateway = await buildGateway({ bus: gatewayBus, db: db("gateway"), redis, logger: testLogger("gateway"), metrics: createMetrics("gateway") });
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
