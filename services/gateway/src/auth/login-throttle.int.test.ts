import { expect } from "vitest";
import Fastify, { type LightMyRequestResponse } from "fastify";
import { Redis } from "ioredis";
import { UnauthorizedError } from "@galaxy/contracts";
import { gatewayTest } from "../../test/fixtures";
import { installErrorHandling } from "../http/errors";
import { LoginThrottle } from "./login-throttle";

/**
 * On the gateway's `env` and `redis` (test/fixtures.ts), each set up once per file:
 * - `checks`: how many password checks the login route has made (`count`, which a test may reset);
 * - `login`: posts an attempt from an address to a login route shaped like the gateway's, throttled
 *   on `redis` (3 per email, 5 per address a minute), with a password check that takes a moment,
 *   so a burst of parallel guesses is in flight together.
 */
const test = gatewayTest
  .extend("checks", { scope: "file" }, async (): Promise<{ count: number }> => ({ count: 0 }))
  .extend("login", { scope: "file" }, async ({ redis, checks }, { onCleanup }) => {
    const throttle = new LoginThrottle(redis, { perEmail: 3, perIp: 5, windowS: 60 });
    const app = Fastify();
    onCleanup(() => app.close());
    installErrorHandling(app);
    app.post<{ Body: { email: string; password: string; ip?: string } }>("/login", async (request, reply) => {
      const attempt = await throttle.begin(request.body.email, request.body.ip ?? request.ip, reply);
      checks.count += 1;
      await new Promise((r) => setTimeout(r, 20));
      if (request.body.password === "right") {
        await attempt.succeeded();
        return { ok: true };
      }
      attempt.failed(reply);
      throw new UnauthorizedError("Email or password is incorrect", "invalid_credentials");
    });
    return (email: string, password: string, ip = "10.0.0.1"): Promise<LightMyRequestResponse> => app.inject({ method: "POST", url: "/login", payload: { email, password, ip } });
  });

test("a burst of parallel guesses gets no more password checks than the limit", async ({ login, checks }) => {
  checks.count = 0;
  const responses = await Promise.all(Array.from({ length: 10 }, () => login("burst@example.com", "wrong", "10.0.0.2")));
  expect(checks.count).toBe(3);
  expect(responses.filter((r) => r.statusCode === 401)).toHaveLength(3);
  const refused = responses.filter((r) => r.statusCode === 429);
  expect(refused).toHaveLength(7);
  for (const r of refused) {
    expect(Number(r.headers["retry-after"])).toBeGreaterThan(0);
    expect(Number(r.headers["retry-after"])).toBeLessThanOrEqual(60);
    expect(r.headers["ratelimit-limit"]).toBe("3");
    expect(r.headers["ratelimit-remaining"]).toBe("0");
  }
});

test("the email's window is shared by every address, and the address's by every email", async ({ login }) => {
  for (const ip of ["10.0.1.1", "10.0.1.2", "10.0.1.3"]) expect((await login("roaming@example.com", "wrong", ip)).statusCode).toBe(401);
  expect((await login("roaming@example.com", "right", "10.0.1.4")).statusCode).toBe(429);
  for (let i = 0; i < 5; i += 1) expect((await login(`spray-${i}@example.com`, "wrong", "10.0.2.1")).statusCode).toBe(401);
  expect((await login("innocent@example.com", "right", "10.0.2.1")).statusCode).toBe(429);
  expect((await login("innocent@example.com", "right", "10.0.2.2")).statusCode).toBe(200);
});

test("a success resets the email's count but not the address's", async ({ login }) => {
  for (let i = 0; i < 2; i += 1) await login("mine@example.com", "wrong", "10.0.3.1");
  expect((await login("mine@example.com", "right", "10.0.3.1")).statusCode).toBe(200);
  for (let i = 0; i < 3; i += 1) expect((await login("mine@example.com", "wrong", "10.0.3.1")).statusCode).toBe(401);
  // Two failures before and three after: the address has used its five.
  expect((await login("other@example.com", "right", "10.0.3.1")).statusCode).toBe(429);
});

test("the window ends: counters expire with it", async ({ env, redis }) => {
  const keys = await redis.keys(`${env.redisPrefix}login:*`);
  expect(keys.length).toBeGreaterThan(0);
  for (const key of keys) {
    const ttl = await redis.ttl(key.slice(env.redisPrefix.length));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60);
  }
});

test("without Redis, login fails closed with a 503", async () => {
  const broken = new Redis("redis://127.0.0.1:1", { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false });
  const throttle = new LoginThrottle(broken);
  const offline = Fastify();
  installErrorHandling(offline);
  offline.post("/login", async (request, reply) => {
    await throttle.begin("x@example.com", request.ip, reply);
    return { ok: true };
  });
  const response = await offline.inject({ method: "POST", url: "/login", payload: {} });
  expect(response.statusCode).toBe(503);
  expect(JSON.parse(response.payload)).toMatchObject({ code: "service_unavailable" });
  await offline.close();
  broken.disconnect();
});
