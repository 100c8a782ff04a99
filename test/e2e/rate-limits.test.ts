import { spawn, type ChildProcess } from "node:child_process";
import { Redis } from "ioredis";
import { describe, expect } from "vitest";
import { CreatedApiKey, ErrorBody, SignupResult } from "@galaxy/contracts";
import { freePort } from "@galaxy/testkit";
import { RATE_TIERS_KEY } from "@galaxy/gateway";
import { galaxyTestAfter, startGalaxyFirst } from "./fixtures";
import { api, dataOf, eventually } from "./harness";

// Small limits, and a window long enough that no test crosses into the next one.
const LIMITS = { windowS: 3_600, tiers: { free: { workspace: 8, credential: 5 }, pro: { workspace: 40, credential: 30 }, enterprise: { workspace: 100, credential: 100 } } };

/** A redis-server of this test's own, which it stops to see the limiter fail closed. */
async function ownRedis(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  const url = `redis://127.0.0.1:${port}`;
  await eventually(async () => {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      await probe.connect();
      return (await probe.ping()) === "PONG" ? true : undefined;
    } catch {
      return undefined;
    } finally {
      probe.disconnect();
    }
  }, 10_000, "redis-server to start");
  return { url, child };
}

/**
 * A Galaxy whose gateway counts in `redis`, a redis-server started before it and killed after
 * it; `signup` signs a user up.
 */
const test = galaxyTestAfter(
  async ({ onCleanup }) => {
    const redis = await ownRedis();
    onCleanup(() => void redis.child.kill("SIGKILL"));
    return redis;
  },
  (redis) => ({ options: { apiRateLimit: LIMITS, gatewayRedisUrl: redis.url } }),
)
  .extend("redis", { scope: "file" }, async ({ prelude }) => prelude)
  .extend("signup", { scope: "file" }, async ({ galaxy }) => async (email: string): Promise<SignupResult> =>
    dataOf(SignupResult, await api(galaxy, "POST", "/api/auth/signup", { body: { email, password: "correct horse battery", name: "Rae", workspaceName: email } })));
startGalaxyFirst(test);

describe("rate limits on /api/*", () => {
  test("a credential gets its limit, with RateLimit-* on every answer, then 429 rate_limited with Retry-After", async ({ galaxy, signup }) => {
    const owner = await signup("rae@limits.example");
    const statuses: number[] = [];
    const remaining: Array<string | null> = [];
    for (let i = 0; i < 6; i++) {
      const response = await api(galaxy, "GET", "/api/me", { token: owner.accessToken });
      statuses.push(response.status);
      remaining.push(response.headers.get("ratelimit-remaining"));
      expect(response.headers.get("ratelimit-limit")).toBe("5");
      expect(Number(response.headers.get("ratelimit-reset"))).toBeGreaterThan(0);
      if (response.status === 429) {
        expect(ErrorBody.parse(response.body).code).toBe("rate_limited");
        expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
      }
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    expect(remaining).toEqual(["4", "3", "2", "1", "0", "0"]);
  });

  test("an API key counts on its own, and the workspace's limit holds across its credentials", async ({ galaxy, signup }) => {
    const owner = await signup("ray@limits.example");
    const key = dataOf(CreatedApiKey, await api(galaxy, "POST", "/api/api-keys", { token: owner.accessToken, body: { name: "ci", role: "admin" } })).key;
    // The owner has used 1 of the workspace's 8 and the key 5 of its own (its refused 6th uses none of the workspace's): 2 are left.
    const byKey: number[] = [];
    for (let i = 0; i < 6; i++) byKey.push((await api(galaxy, "GET", "/api/me", { token: key })).status);
    expect(byKey).toEqual([200, 200, 200, 200, 200, 429]);
    const byOwner: number[] = [];
    for (let i = 0; i < 3; i++) byOwner.push((await api(galaxy, "GET", "/api/me", { token: owner.accessToken })).status);
    expect(byOwner).toEqual([200, 200, 429]);
  });

  test("a workspace on a higher tier gets that tier's limits", async ({ galaxy, redis, signup }) => {
    const owner = await signup("roy@limits.example");
    const admin = new Redis(redis.url, { keyPrefix: galaxy.env.redisPrefix });
    try {
      await admin.hset(RATE_TIERS_KEY, owner.workspace.id, "pro");
    } finally {
      admin.disconnect();
    }
    const response = await api(galaxy, "GET", "/api/me", { token: owner.accessToken });
    expect(response.status).toBe(200);
    expect(response.headers.get("ratelimit-limit")).toBe("30");
  });

  test("a request refused for its input counts too, and one without a credential is a 401 whatever its input", async ({ galaxy, signup }) => {
    const owner = await signup("ines@limits.example");
    const remaining: Array<string | null> = [];
    for (const path of ["/api/agents?limit=abc", "/api/agents/not-a-uuid", "/api/agents"]) {
      const response = await api(galaxy, "GET", path, { token: owner.accessToken });
      expect(response.status, path).toBe(path === "/api/agents" ? 200 : 400);
      remaining.push(response.headers.get("ratelimit-remaining"));
    }
    expect(remaining).toEqual(["4", "3", "2"]);
    const anonymous = await api(galaxy, "POST", "/api/agents", { body: { name: "" } });
    expect(anonymous.status).toBe(401);
    expect(ErrorBody.parse(anonymous.body).code).toBe("missing_credentials");
  });

  test("sign-up and login are not counted here", async ({ galaxy }) => {
    for (let i = 0; i < 10; i++) expect((await api(galaxy, "POST", "/api/auth/login", { body: { email: "rae@limits.example", password: "correct horse battery" } })).status).toBe(200);
  });

  test("without Redis the limiter answers 503 at once: it fails closed", async ({ galaxy, redis, signup }) => {
    const owner = await signup("rex@limits.example");
    redis.child.kill("SIGKILL");
    await new Promise((resolve) => redis.child.once("exit", resolve));
    const response = await eventually(async () => {
      const answer = await api(galaxy, "GET", "/api/me", { token: owner.accessToken });
      return answer.status === 200 ? undefined : answer;
    }, 10_000, "the limiter to notice Redis is gone");
    expect(response.status).toBe(503);
    expect(ErrorBody.parse(response.body).code).toBe("service_unavailable");
  });
});
