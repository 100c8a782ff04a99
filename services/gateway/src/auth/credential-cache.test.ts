import { describe, expect, test } from "vitest";
import { CredentialCache } from "./credential-cache";

interface Value {
  expiresAt: number;
  n: number;
  tags: string[];
}

function setup() {
  let now = 1_000_000_000;
  const cache = new CredentialCache<Value>({ maxAgeMs: 30_000, expiryMarginMs: 30_000, maxEntries: 100, now: () => now });
  let loads = 0;
  const load = (tags: string[], ttlS = 900) => async () => ({ expiresAt: Math.floor(now / 1000) + ttlS, n: ++loads, tags });
  return { cache, load, tagsOf: (v: Value) => v.tags, advance: (ms: number) => (now += ms), loads: () => loads };
}

describe("a cached claim", () => {
  test("is reused until it is older than maxAge, then fetched again", async () => {
    const { cache, load, tagsOf, advance } = setup();
    expect((await cache.get("a", load(["t"]), tagsOf)).n).toBe(1);
    advance(29_000);
    expect((await cache.get("a", load(["t"]), tagsOf)).n).toBe(1);
    advance(2_000);
    expect((await cache.get("a", load(["t"]), tagsOf)).n).toBe(2);
  });

  test("is renewed before its claim expires", async () => {
    const { cache, load, tagsOf, advance } = setup();
    await cache.get("a", load(["t"], 40), tagsOf);
    advance(11_000);
    expect((await cache.get("a", load(["t"], 40), tagsOf)).n).toBe(2);
  });

  test("is fetched once for concurrent requests", async () => {
    const { cache, load, tagsOf, loads } = setup();
    const results = await Promise.all([1, 2, 3].map(() => cache.get("a", load(["t"]), tagsOf)));
    expect(results.map((r) => r.n)).toEqual([1, 1, 1]);
    expect(loads()).toBe(1);
  });

  test("is not kept when fetching it failed", async () => {
    const { cache, load, tagsOf } = setup();
    await expect(cache.get("a", async () => Promise.reject(new Error("401")), tagsOf)).rejects.toThrow("401");
    expect((await cache.get("a", load(["t"]), tagsOf)).n).toBe(1);
  });
});

describe("invalidating a tag", () => {
  test("drops every entry so tagged and no other", async () => {
    const { cache, load, tagsOf } = setup();
    await cache.get("token", load(["member:w:u"]), tagsOf);
    await cache.get("key", load(["member:w:u", "api_key:w:k"]), tagsOf);
    await cache.get("other", load(["member:w:v"]), tagsOf);
    expect(cache.invalidate("member:w:u")).toBe(2);
    expect(cache.size).toBe(1);
    expect((await cache.get("other", load(["member:w:v"]), tagsOf)).n).toBe(3);
    expect((await cache.get("key", load(["member:w:u", "api_key:w:k"]), tagsOf)).n).toBe(4);
    expect(cache.invalidate("api_key:w:k")).toBe(1);
    expect(cache.invalidate("api_key:w:k")).toBe(0);
  });

  test("while a fetch is in flight: its answer goes to its request but is not cached, and later requests fetch anew", async () => {
    const { cache, tagsOf } = setup();
    let release: (v: Value) => void = () => undefined;
    const slow = cache.get("a", () => new Promise<Value>((resolve) => (release = resolve)), tagsOf);
    cache.invalidate("member:w:u");
    const fresh = cache.get("a", async () => ({ expiresAt: 9e9, n: 2, tags: ["member:w:u"] }), tagsOf);
    release({ expiresAt: 9e9, n: 1, tags: ["member:w:u"] });
    expect((await slow).n).toBe(1);
    expect((await fresh).n).toBe(2);
    expect((await cache.get("a", async () => ({ expiresAt: 9e9, n: 3, tags: ["member:w:u"] }), tagsOf)).n).toBe(2);
  });

  test("of another principal does not stop an in-flight answer from being cached", async () => {
    const { cache, tagsOf } = setup();
    let release: (v: Value) => void = () => undefined;
    const slow = cache.get("a", () => new Promise<Value>((resolve) => (release = resolve)), tagsOf);
    cache.invalidate("member:w:someone-else");
    release({ expiresAt: 9e9, n: 1, tags: ["member:w:u"] });
    await slow;
    expect((await cache.get("a", async () => ({ expiresAt: 9e9, n: 2, tags: ["member:w:u"] }), tagsOf)).n).toBe(1);
  });
});
