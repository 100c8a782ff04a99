import { afterAll, beforeAll, expect, inject, test } from "vitest";
import Fastify, { type FastifyInstance } from "fastify";
import { Redis } from "ioredis";
import { UnauthorizedError } from "@galaxy/contracts";
import { createTestEnv, type TestEnv } from "@galaxy/testkit";
import { installErrorHandling } from "../http/errors";
import { LoginThrottle } from "./login-throttle";

let env: TestEnv;
let redis: Redis;
let app: FastifyInstance;
let checked = 0;

// A login route shaped like the gateway's, with a password check that takes a moment, so a
// burst of parallel guesses is in flight together.
beforeAll(async () => {
  env = await createTestEnv(inject("engines"));
  redis = new Redis(env.redisUrl, { keyPrefix: env.redisPrefix });
  const throttle = new LoginThrottle(redis, { perEmail: 3, perIp: 5, windowS: 60 });
  app = Fastify();
  installErrorHandling(app);
  app.post<{ Body: { email: string; password: string; ip?: string } }>("/login", async (request, reply) => {
    const attempt = await throttle.begin(request.body.email, request.body.ip ?? request.ip, reply);
    checked += 1;
    await new Promise((r) => setTimeout(r, 20));
    if (request.body.password === "right") {
      await attempt.succeeded();
      return { ok: true };
    }
    attempt.failed(reply);
    throw new UnauthorizedError("Email or password is incorrect", "invalid_credentials");
  });
});

afterAll(async () => {
  await app?.close();
  redis?.disconnect();
  await env?.cleanup();
});

const login = (email: string, password: string, ip = "10.0.0.1") => app.inject({ method: "POST", url: "/login", payload: { email, password, ip } });

test("a burst of parallel guesses gets no more password checks than the limit", async () => {
  checked = 0;
  const responses = await Promise.all(Array.from({ length: 10 }, () => login("burst@example.com", "wrong", "10.0.0.2")));
  expect(checked).toBe(3);
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

test("the email's window is shared by every address, and the address's by every email", async () => {
  for (const ip of ["10.0.1.1", "10.0.1.2", "10.0.1.3"]) expect((await login("roaming@example.com", "wrong", ip)).statusCode).toBe(401);
  expect((await login("roaming@example.com", "right", "10.0.1.4")).statusCode).toBe(429);
  for (let i = 0; i < 5; i += 1) expect((await login(`spray-${i}@example.com`, "wrong", "10.0.2.1")).statusCode).toBe(401);
  expect((await login("innocent@example.com", "right", "10.0.2.1")).statusCode).toBe(429);
  expect((await login("innocent@example.com", "right", "10.0.2.2")).statusCode).toBe(200);
});

test("a success resets the email's count but not the address's", async () => {
  for (let i = 0; i < 2; i += 1) await login("mine@example.com", "wrong", "10.0.3.1");
  expect((await login("mine@example.com", "right", "10.0.3.1")).statusCode).toBe(200);
  for (let i = 0; i < 3; i += 1) expect((await login("mine@example.com", "wrong", "10.0.3.1")).statusCode).toBe(401);
  // Two failures before and three after: the address has used its five.
  expect((await login("other@example.com", "right", "10.0.3.1")).statusCode).toBe(429);
});

test("the window ends: counters expire with it", async () => {
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
