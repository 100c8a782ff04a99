import { describe, expect, inject, test } from "vitest";
import { Redis } from "ioredis";
import { Bus } from "@galaxy/bus";
import { createDb, sql } from "@galaxy/db";
import { freePort, testLogger } from "@galaxy/testkit";
import { classifyGatewayFailure } from "./failure-kind";

/** The errors the real clients raise, each classified: an outage (503), bad input (400) or a bug (500). */

async function failureOf(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  throw new Error("expected the work to fail");
}

describe("classifyGatewayFailure", () => {
  test("Postgres refusing connections is an engine outage", async () => {
    const db = createDb<unknown>({ connectionString: `postgres://postgres@127.0.0.1:${await freePort()}/galaxy`, max: 1 });
    try {
      expect(classifyGatewayFailure(await failureOf(() => sql`select 1`.execute(db)))).toBe("engine");
    } finally {
      await db.destroy();
    }
  });

  test("a value Postgres refuses (a NUL in jsonb) is the input's fault", async () => {
    // The maintenance database: the test needs the server's parser, no table of Galaxy's.
    const url = new URL(inject("engines").databaseUrl);
    url.pathname = "/postgres";
    const db = createDb<unknown>({ connectionString: url.toString(), max: 1 });
    try {
      const error = await failureOf(() => sql`select ${'"\\u0000"'}::jsonb ->> 0`.execute(db));
      expect(classifyGatewayFailure(error)).toBe("input");
    } finally {
      await db.destroy();
    }
  });

  test("Redis refusing connections is an engine outage, once the client gives up on a command", async () => {
    const redis = new Redis({ host: "127.0.0.1", port: await freePort(), lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 10 });
    redis.on("error", () => undefined);
    try {
      expect(classifyGatewayFailure(await failureOf(() => redis.get("k")))).toBe("engine");
    } finally {
      redis.disconnect();
    }
  });

  test("a request over a closed NATS connection is an engine outage, also wrapped as a cause", async () => {
    const bus = await Bus.connect({ url: inject("engines").natsUrl, prefix: `t${Date.now()}`, service: "gateway", logger: testLogger("gateway") });
    await bus.close();
    const error = await failureOf(() => bus.request("identity.jwks", {}));
    expect(classifyGatewayFailure(error)).toBe("engine");
    expect(classifyGatewayFailure(new Error("request failed", { cause: error }))).toBe("engine");
  });

  test("a stack overflow is the input's fault, however deep in the causes", () => {
    let overflow: unknown;
    const recurse = (n: number): number => recurse(n + 1) + 1;
    try {
      recurse(0);
    } catch (error) {
      overflow = error;
    }
    expect(overflow).toBeInstanceOf(RangeError);
    expect(classifyGatewayFailure(overflow)).toBe("input");
    expect(classifyGatewayFailure(new Error("the service did not answer", { cause: overflow }))).toBe("input");
  });

  test("anything else is a bug", () => {
    expect(classifyGatewayFailure(new TypeError("Cannot read properties of undefined (reading 'id')"))).toBe("bug");
    expect(classifyGatewayFailure("a string thrown")).toBe("bug");
    expect(classifyGatewayFailure(new RangeError("Invalid array length"))).toBe("bug");
  });
});
