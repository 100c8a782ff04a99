import type { FastifyInstance } from "fastify";
import { Redis } from "ioredis";
import type { Bus } from "@galaxy/bus";
import type { Kysely } from "@galaxy/db";
import { createMetrics } from "@galaxy/observability";
import { connectTestBus, serviceDb, testLogger } from "@galaxy/testkit";
import { test as engineTest } from "@galaxy/testkit/fixtures";
import { buildGateway, type GatewayDeps } from "../src/app";
import type { GatewayDb } from "../src/db";

/** Builds a gateway on the file's database, bus and Redis, with `deps` given over them. */
export type MakeGateway = (deps?: Partial<GatewayDeps>) => Promise<FastifyInstance>;

/**
 * The fixtures of the gateway's engine tests, each set up once per file on the testkit's `env`
 * (the file's own database, bus prefix and Redis key prefix) when a test (or a fixture it uses)
 * asks for it, and cleaned up after the file's last test:
 * - `db`: the gateway's login role on the file's database;
 * - `gatewayBus`: the gateway's bus; `identityBus`: identity's, for a stand-in serving what a file needs;
 * - `redis`: Redis under the file's key prefix;
 * - `makeGateway`: builds gateways on them (its own metrics registry and logger unless told), and
 *   closes every one built before the connections they use.
 */
export const gatewayTest = engineTest
  .extend("db", { scope: "file" }, async ({ env }, { onCleanup }): Promise<Kysely<GatewayDb>> => {
    const db = serviceDb<GatewayDb>(env, "gateway");
    onCleanup(() => db.destroy());
    return db;
  })
  .extend("gatewayBus", { scope: "file" }, async ({ env }, { onCleanup }): Promise<Bus> => {
    const bus = await connectTestBus(env, "gateway");
    onCleanup(() => bus.close());
    return bus;
  })
  .extend("identityBus", { scope: "file" }, async ({ env }, { onCleanup }): Promise<Bus> => {
    const bus = await connectTestBus(env, "identity");
    onCleanup(() => bus.close());
    return bus;
  })
  .extend("redis", { scope: "file" }, async ({ env }, { onCleanup }): Promise<Redis> => {
    const redis = new Redis(env.redisUrl, { keyPrefix: env.redisPrefix });
    onCleanup(() => redis.disconnect());
    return redis;
  })
  .extend("makeGateway", { scope: "file" }, async ({ db, gatewayBus, redis }, { onCleanup }): Promise<MakeGateway> => {
    const built: FastifyInstance[] = [];
    onCleanup(async () => {
      for (const app of built.reverse()) await app.close();
    });
    return async (deps = {}) => {
      const app = await buildGateway({ bus: gatewayBus, db, redis, logger: testLogger("gateway"), metrics: createMetrics("gateway"), ...deps });
      built.push(app);
      return app;
    };
  });
