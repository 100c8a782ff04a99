import { describe, expect } from "vitest";
import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { Redis } from "ioredis";
import type { Bus } from "@galaxy/bus";
import { Agent, CreatedTrigger, ErrorBody, SignupResult } from "@galaxy/contracts";
import { createDb, type Kysely } from "@galaxy/db";
import { createMetrics } from "@galaxy/observability";
import { connectTestBus, freePort, serviceDb, testLogger } from "@galaxy/testkit";
import { signWebhook } from "@galaxy/webhooks";
import { buildGateway, type GatewayDb } from "@galaxy/gateway";
import { galaxyTest, startGalaxyFirst } from "./fixtures";
import { api, dataOf } from "./harness";

/**
 * docs/errors.md: an engine the gateway cannot reach is a 503 with `Retry-After`, never a 500;
 * bad input is a 400 on the API and on webhook deliveries alike. Beside the running Galaxy, the
 * test builds gateways whose idempotency store, Redis or bus is out of reach (a closed port, a
 * closed connection), sharing everything else with it.
 */

interface Parts {
  db?: Kysely<GatewayDb>;
  redis?: Redis;
  bus?: Bus;
}

/** A Redis client as the gateway runs it, but pointed at a port where nothing listens. */
async function unreachableRedis(): Promise<Redis> {
  const redis = new Redis({ host: "127.0.0.1", port: await freePort(), lazyConnect: true, maxRetriesPerRequest: 2, retryStrategy: () => 20 });
  redis.on("error", () => undefined);
  return redis;
}

function expectUnavailable(response: { statusCode: number; payload: string; headers: Record<string, unknown> }): void {
  expect(response.statusCode, response.payload).toBe(503);
  expect(ErrorBody.parse(JSON.parse(response.payload))).toMatchObject({ error: "Service Unavailable", code: "service_unavailable" });
  expect(String(response.headers["retry-after"])).toMatch(/^\d+$/);
}

/**
 * Set up before the first test: `token`, of a workspace with an active agent (`agent`) and a
 * webhook trigger of it (`trigger`).
 * - `gatewayWith`: another gateway on this Galaxy, with any of its engines replaced (each closed
 *   after the file's last test);
 * - `signed`: the headers of a delivery of `body` to the trigger, signed with its secret.
 */
const test = galaxyTest()
  .extend("token", { scope: "file", auto: true }, async ({ galaxy }) =>
    dataOf(SignupResult, await api(galaxy, "POST", "/api/auth/signup", { body: { email: "outages@example.com", password: "correct horse battery", name: "O", workspaceName: "Outages" } })).accessToken)
  .extend("agent", { scope: "file", auto: true }, async ({ galaxy, token }) => {
    const agent = dataOf(Agent, await api(galaxy, "POST", "/api/agents", { token, body: { name: "Echo", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "Repeat." } }));
    expect((await api(galaxy, "POST", `/api/agents/${agent.id}/activate`, { token })).status).toBe(200);
    return agent;
  })
  .extend("trigger", { scope: "file", auto: true }, async ({ galaxy, token, agent }) =>
    dataOf(CreatedTrigger, await api(galaxy, "POST", `/api/agents/${agent.id}/triggers`, { token, body: { type: "webhook" } })))
  .extend("gatewayWith", { scope: "file" }, async ({ galaxy }, { onCleanup }) => {
    const cleanups: Array<() => Promise<void>> = [];
    onCleanup(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
    });
    return async (parts: Parts): Promise<FastifyInstance> => {
      const bus = parts.bus ?? (await connectTestBus(galaxy.env, "gateway"));
      const db = parts.db ?? serviceDb<GatewayDb>(galaxy.env, "gateway");
      const redis = parts.redis ?? new Redis(galaxy.env.redisUrl, { keyPrefix: galaxy.env.redisPrefix });
      const gateway = await buildGateway({ bus, db, redis, logger: testLogger("gateway-outage"), metrics: createMetrics("gateway-outage") });
      cleanups.push(async () => {
        await gateway.close();
        await bus.close();
        redis.disconnect();
        await db.destroy();
      });
      return gateway;
    };
  })
  .extend("signed", { scope: "file" }, async ({ trigger }) => (body: string, headers: Record<string, string> = {}): Record<string, string> => {
    const id = `msg_${randomUUID()}`;
    const timestamp = Math.floor(Date.now() / 1000);
    return { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signWebhook(trigger.secret ?? "", id, timestamp, body), ...headers };
  });
startGalaxyFirst(test);

describe("an engine out of reach is a 503 with Retry-After", () => {
  test("the idempotency store refusing connections: a keyed request is a 503; without a key it runs", async ({ token, gatewayWith }) => {
    const db = createDb<GatewayDb>({ connectionString: `postgres://gateway@127.0.0.1:${await freePort()}/galaxy`, max: 1 });
    const gateway = await gatewayWith({ db });
    const body = { name: "Keyed", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "Hi." };
    const keyed = await gateway.inject({ method: "POST", url: "/api/agents", headers: { authorization: `Bearer ${token}`, "idempotency-key": randomUUID() }, payload: body });
    expectUnavailable(keyed);
    const unkeyed = await gateway.inject({ method: "POST", url: "/api/agents", headers: { authorization: `Bearer ${token}` }, payload: body });
    expect(unkeyed.statusCode).toBe(201);
    expect((await gateway.inject({ method: "GET", url: "/health/ready" })).statusCode).toBe(503);
  });

  test("Redis refusing connections: a webhook delivery (its rate limit) and a login (its throttle) are 503s", async ({ trigger, gatewayWith, signed }) => {
    const gateway = await gatewayWith({ redis: await unreachableRedis() });
    const body = JSON.stringify({ message: "while Redis is down" });
    expectUnavailable(await gateway.inject({ method: "POST", url: `/hooks/${trigger.id}`, headers: signed(body), payload: body }));
    expectUnavailable(await gateway.inject({ method: "POST", url: "/api/auth/login", payload: { email: "outages@example.com", password: "correct horse battery" } }));
  });

  test("the bus connection closed: an API call and a delivery are 503s", async ({ galaxy, token, trigger, gatewayWith, signed }) => {
    const bus = await connectTestBus(galaxy.env, "gateway");
    const gateway = await gatewayWith({ bus });
    await bus.close();
    expectUnavailable(await gateway.inject({ method: "GET", url: "/api/agents", headers: { authorization: `Bearer ${token}` } }));
    const body = JSON.stringify({ message: "while NATS is gone" });
    expectUnavailable(await gateway.inject({ method: "POST", url: `/hooks/${trigger.id}`, headers: signed(body), payload: body }));
  });
});

describe("what cannot be stored is the same 400 invalid_value on the API and on /hooks, before any 202", () => {
  const hostile: Array<[string, string]> = [
    ["a NUL character", '{"message":"a\\u0000b"}'],
    ["a lone surrogate", '{"message":"\\ud800"}'],
    ["nesting 5,000 deep", `{"message":${"[".repeat(5000)}${"]".repeat(5000)}}`],
    ["a number out of range", '{"message":1e400}'],
  ];

  test.for(hostile)("%s", async ([_name, input], { galaxy, token, agent, trigger, signed }) => {
    const started = await api(galaxy, "POST", `/api/agents/${agent.id}/executions`, { token, body: `{"input":${input}}`, headers: { "idempotency-key": randomUUID() } });
    expect(started.status, JSON.stringify(started.body)).toBe(400);
    expect(ErrorBody.parse(started.body).code).toBe("invalid_value");
    const delivered = await api(galaxy, "POST", `/hooks/${trigger.id}`, { body: input, headers: signed(input) });
    expect(delivered.status, JSON.stringify(delivered.body)).toBe(400);
    expect(ErrorBody.parse(delivered.body).code).toBe("invalid_value");
  });

  test("the same bodies without the hostile value are accepted on both paths", async ({ galaxy, token, agent, trigger, signed }) => {
    const input = '{"message":"fine"}';
    expect((await api(galaxy, "POST", `/api/agents/${agent.id}/executions`, { token, body: `{"input":${input}}` })).status).toBe(202);
    expect((await api(galaxy, "POST", `/hooks/${trigger.id}`, { body: input, headers: signed(input) })).status).toBe(202);
  });
});
