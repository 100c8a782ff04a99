import type { RouteOptions } from "fastify";
import { Redis } from "ioredis";
import type { Bus } from "@galaxy/bus";
import { createDb } from "@galaxy/db";
import { createLogger, createMetrics } from "@galaxy/observability";
import { buildGateway } from "../app";
import type { GatewayDb } from "../db";
import type { Json } from "./finish";

/**
 * A bus for a gateway that only describes itself: the routes are registered (their caches
 * subscribe to invalidations) but never called, so nothing else may be reached.
 */
function documentOnlyBus(): Bus {
  const inert = new Proxy(
    {},
    {
      get(_target, name) {
        if (name === "subscribeCore") return () => ({ unsubscribe: () => undefined });
        if (name === "onReconnect") return () => undefined;
        return () => {
          throw new Error(`the document-only gateway has no bus (Bus.${String(name)})`);
        };
      },
    },
  );
  return inert as Bus;
}

/**
 * `/openapi.json` as the gateway serves it, built from its routes without engines or a
 * listening server (`pnpm --filter @galaxy/sdk generate` writes it for the SDK). `routes`
 * collects every route Fastify registered.
 */
export async function apiDocument(routes: RouteOptions[] = []): Promise<Json> {
  // Neither connects until asked to, and nothing asks.
  const db = createDb<GatewayDb>({ connectionString: "postgres://document-only@127.0.0.1:1/none", max: 1 });
  const redis = new Redis({ lazyConnect: true, enableOfflineQueue: false });
  const app = await buildGateway({
    bus: documentOnlyBus(),
    db,
    redis,
    logger: createLogger({ service: "gateway", level: "silent" }),
    metrics: createMetrics("gateway"),
    onRoute: (route) => routes.push(route),
  });
  try {
    await app.ready();
    return JSON.parse(JSON.stringify(app.swagger())) as Json;
  } finally {
    await app.close();
    redis.disconnect();
    await db.destroy();
  }
}
