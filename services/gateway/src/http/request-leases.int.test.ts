import { expect } from "vitest";
import { Redis } from "ioredis";
import { v7 as uuidv7 } from "uuid";
import { gatewayTest } from "../../test/fixtures";
import { RATE_TIERS_KEY, RequestLeases, workspaceCounterKey, type CountedRequest, type RequestCount } from "./request-leases";

/** The API's request counts taken from Redis in leases (request-leases.ts), on the file's Redis. */

// `redis` connected before a test counts: the leases refuse to count on a connection not ready.
const test = gatewayTest.extend("ready", { scope: "file" }, async ({ redis }) => {
  await redis.ping();
  return redis;
});

const WINDOW_S = 3_600;
const HIGH = { workspace: 100_000, credential: 100_000 };

/** A credential of a new workspace in the current window. */
function newCredential(): CountedRequest {
  return { workspaceId: uuidv7(), credential: `user:${uuidv7()}`, window: Math.floor(Date.now() / 1000 / WINDOW_S) };
}

/** The leases (scripts that raise the counters) `redis` is asked for while it is watched. */
function watchScripts(redis: Redis): { calls: () => number; stop: () => void } {
  const original = redis.galaxyLeaseCounts.bind(redis);
  let calls = 0;
  redis.galaxyLeaseCounts = ((...args: Parameters<typeof original>) => {
    calls += 1;
    return original(...args);
  }) as typeof redis.galaxyLeaseCounts;
  return { calls: () => calls, stop: () => void (redis.galaxyLeaseCounts = original as typeof redis.galaxyLeaseCounts) };
}

async function counterOf(redis: Redis, request: CountedRequest): Promise<number> {
  return Number(await redis.get(workspaceCounterKey(request)));
}

/** Waits (5 s at most) for `read` to answer `expected`, and checks that it did. */
async function settled(read: () => Promise<number>, expected: number): Promise<void> {
  const deadline = Date.now() + 5_000;
  let value = await read();
  while (value !== expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    value = await read();
  }
  expect(value).toBe(expected);
}

test("a credential that sends less often than every 100 ms is counted in Redis request by request", async ({ ready: redis }) => {
  const leases = new RequestLeases(redis, WINDOW_S, () => HIGH);
  const request = newCredential();
  const scripts = watchScripts(redis);
  const counts: RequestCount[] = [];
  try {
    for (let i = 0; i < 4; i++) {
      counts.push(await leases.count(request));
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  } finally {
    scripts.stop();
  }
  expect(counts.map((count) => [count.workspace, count.credential])).toEqual([[1, 1], [2, 2], [3, 3], [4, 4]]);
  expect(scripts.calls()).toBe(4);
  expect(await counterOf(redis, request)).toBe(4);
});

test("a client sending one request after another gets counts in order, most from leases", async ({ ready: redis }) => {
  const leases = new RequestLeases(redis, WINDOW_S, () => HIGH);
  const request = newCredential();
  const scripts = watchScripts(redis);
  const counts: number[] = [];
  try {
    for (let i = 0; i < 100; i++) counts.push((await leases.count(request)).credential);
  } finally {
    scripts.stop();
  }
  expect(counts).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  // Leases of 1, 2, 3, 5, 9, 17, 33 and 33 when no pause resets the pace: 8 scripts; 100 counted one by one.
  expect(scripts.calls()).toBeLessThan(50);
});

test("requests that come together share leases, each with the count it would have got alone", async ({ ready: redis }) => {
  const leases = new RequestLeases(redis, WINDOW_S, () => HIGH);
  const request = newCredential();
  const scripts = watchScripts(redis);
  const counts: RequestCount[] = [];
  try {
    // Ten rounds of twenty requests at once, as twenty connections of one client would send them.
    for (let round = 0; round < 10; round++) counts.push(...(await Promise.all(Array.from({ length: 20 }, () => leases.count(request)))));
  } finally {
    scripts.stop();
  }
  const credentialCounts = counts.map((count) => count.credential).sort((x, y) => x - y);
  expect(credentialCounts).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  expect(new Set(counts.map((count) => count.workspace)).size).toBe(200);
  expect(scripts.calls()).toBeLessThan(20);
  const counted = await counterOf(redis, request);
  expect(counted).toBeGreaterThanOrEqual(200);
  expect(counted).toBeLessThanOrEqual(200 + 32);
});

test("gateways sharing Redis never let a credential past its limit, and refuse few early", async ({ ready: redis }) => {
  const limits = { workspace: 1_000, credential: 100 };
  const request = newCredential();
  const gateways = [new RequestLeases(redis, WINDOW_S, () => limits), new RequestLeases(redis, WINDOW_S, () => limits)];
  const counts: RequestCount[] = [];
  for (let round = 0; round < 4; round++) {
    const burst = gateways.flatMap((leases) => Array.from({ length: 30 }, () => leases.count(request)));
    counts.push(...(await Promise.all(burst)));
  }
  // The limiter lets through the requests whose count is within the limit.
  const within = counts.filter((count) => count.credential <= limits.credential).length;
  expect(within).toBeLessThanOrEqual(limits.credential);
  // Counts taken ahead are at most an eighth of what was left.
  expect(within).toBeGreaterThanOrEqual(limits.credential - 20);
});

test("a tier changed in Redis applies to the next lease", async ({ ready: redis }) => {
  const leases = new RequestLeases(redis, WINDOW_S, () => HIGH);
  const request = newCredential();
  expect((await leases.count(request)).tier).toBe("");
  await redis.hset(RATE_TIERS_KEY, request.workspaceId, "pro");
  expect((await leases.count(request)).tier).toBe("pro");
});

test("counts taken ahead and not handed out within a second are given back, and a new tier applies after them", async ({ ready: redis }) => {
  const leases = new RequestLeases(redis, WINDOW_S, () => HIGH);
  const request = newCredential();
  for (let round = 0; round < 4; round++) await Promise.all(Array.from({ length: 8 }, () => leases.count(request)));
  // 32 handed out, and some taken ahead.
  expect(await counterOf(redis, request)).toBeGreaterThan(32);
  await redis.hset(RATE_TIERS_KEY, request.workspaceId, "enterprise");
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  await settled(() => counterOf(redis, request), 32);
  expect(Number(await redis.get(`ratelimit:cred:${request.workspaceId}:${request.credential}:${request.window}`))).toBe(32);
  const next = await leases.count(request);
  expect(next).toEqual({ tier: "enterprise", workspace: 33, credential: 33 });
  expect(await counterOf(redis, request)).toBe(33);
});

test("a gateway that stops gives back the counts it holds", async ({ ready: redis }) => {
  const leases = new RequestLeases(redis, WINDOW_S, () => HIGH);
  const request = newCredential();
  for (let round = 0; round < 4; round++) await Promise.all(Array.from({ length: 8 }, () => leases.count(request)));
  expect(await counterOf(redis, request)).toBeGreaterThan(32);
  await leases.close();
  expect(await counterOf(redis, request)).toBe(32);
});

test("a credential that pauses between runs of requests loses none of its limit", async ({ ready: redis }) => {
  const limits = { workspace: 300, credential: 300 };
  const leases = new RequestLeases(redis, WINDOW_S, () => limits);
  const request = newCredential();
  let last: RequestCount | undefined;
  for (let run = 0; run < 3; run++) {
    for (let i = 0; i < 21; i++) last = await leases.count(request);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
  }
  expect(last).toMatchObject({ workspace: 63, credential: 63 });
  expect(await counterOf(redis, request)).toBe(63);
});

test("without Redis a request cannot be counted: the count fails", async ({ env }) => {
  const offline = new Redis(env.redisUrl, { lazyConnect: true, keyPrefix: env.redisPrefix });
  const leases = new RequestLeases(offline, WINDOW_S, () => HIGH);
  await expect(leases.count(newCredential())).rejects.toThrow(/Redis is wait/);
  offline.disconnect();
});
