import { describe, expect } from "vitest";
import { connect } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import { GalaxyError, NotFoundError, UnavailableError, ValidationError } from "@galaxy/contracts";
import { createDb, sql } from "@galaxy/db";
import { freePort } from "@galaxy/testkit";
import { busTest } from "../test/fixtures";
import { ClaimError } from "./claims";
import { classifyFailure } from "./classify-failure";
import { TerminalMessageError } from "./errors";

/**
 * One decision for every consumer and responder: is a failure worth waiting out? Where it is
 * cheap, the errors are the engines' own (a closed port, a terminated backend, a real
 * serialization failure); the rest are shaped as the drivers shape them.
 */

/** `db`: the bootstrap connection to the file's database; `nc`: a plain NATS connection. */
const test = busTest
  .extend("db", { scope: "file" }, async ({ env }, { onCleanup }) => {
    const db = createDb<unknown>({ connectionString: env.databaseUrl, max: 3 });
    onCleanup(() => db.destroy());
    return db;
  })
  .extend("nc", { scope: "file" }, async ({ env }, { onCleanup }) => {
    const nc = await connect({ servers: env.natsUrl });
    onCleanup(() => nc.close());
    return nc;
  });

async function failure(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  throw new Error("expected the work to fail");
}

/** An error as pg builds one from a server's ErrorResponse. */
function pgError(code: string, message = "from the server"): Error {
  return Object.assign(new Error(message), { code, severity: "ERROR" });
}

describe("engine failures are transient", () => {
  test("Postgres refusing connections (a closed port): ECONNREFUSED", async () => {
    const down = createDb<unknown>({ connectionString: `postgres://postgres@127.0.0.1:${await freePort()}/galaxy`, max: 1 });
    try {
      const error = await failure(() => sql`select 1`.execute(down));
      expect(error).toMatchObject({ code: "ECONNREFUSED" });
      expect(classifyFailure(error)).toBe("transient");
    } finally {
      await down.destroy();
    }
  });

  test("Postgres terminating the backend mid-query (57P01, as in a restart)", async ({ env, db }) => {
    const victim = createDb<unknown>({ connectionString: env.databaseUrl, max: 1, applicationName: "classify-victim" });
    try {
      const running = failure(() => sql`select pg_sleep(10)`.execute(victim));
      for (let i = 0; i < 50; i++) {
        const { rows } = await sql<{ n: number }>`select pg_terminate_backend(pid)::int as n from pg_stat_activity where application_name = 'classify-victim' and state = 'active'`.execute(db);
        if (rows.length > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const error = await running;
      expect(error).toMatchObject({ code: "57P01" });
      expect(classifyFailure(error)).toBe("transient");
    } finally {
      await victim.destroy();
    }
  });

  test("a serialization failure between two repeatable-read transactions (40001)", async ({ db }) => {
    await sql`create table if not exists classify_counter (id int primary key, n int not null)`.execute(db);
    await sql`insert into classify_counter values (1, 0) on conflict (id) do update set n = 0`.execute(db);
    const error = await failure(() =>
      db.transaction().setIsolationLevel("repeatable read").execute(async (tx) => {
        await sql`select n from classify_counter where id = 1`.execute(tx);
        await sql`update classify_counter set n = n + 1 where id = 1`.execute(db);
        await sql`update classify_counter set n = n + 1 where id = 1`.execute(tx);
      }),
    );
    expect(error).toMatchObject({ code: "40001" });
    expect(classifyFailure(error)).toBe("transient");
  });

  test.each(["08006", "08001", "57P03", "40P01", "53300", "53100", "55P03", "57014", "25006"])("SQLSTATE %s", (code) => {
    expect(classifyFailure(pgError(code))).toBe("transient");
  });

  test("pg's own connection losses, which carry no code", () => {
    expect(classifyFailure(new Error("Connection terminated unexpectedly"))).toBe("transient");
    expect(classifyFailure(new Error("timeout exceeded when trying to connect"))).toBe("transient");
  });

  test("Redis down: ioredis gives up on the command", async () => {
    const redis = new Redis({ port: await freePort(), host: "127.0.0.1", maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
    redis.on("error", () => undefined);
    try {
      const error = await failure(async () => {
        await redis.connect().catch(() => undefined);
        return redis.get("k");
      });
      expect(classifyFailure(error)).toBe("transient");
    } finally {
      redis.disconnect();
    }
  });

  test("NATS: no responders, and a responder that never answers (timeout)", async ({ env, nc }) => {
    const none = await failure(() => nc.request(`${env.busPrefix}.nobody.here`, "", { timeout: 2_000 }));
    expect(classifyFailure(none)).toBe("transient");
    const sub = nc.subscribe(`${env.busPrefix}.silent`);
    try {
      await nc.flush();
      const silent = await failure(() => nc.request(`${env.busPrefix}.silent`, "", { timeout: 100 }));
      expect(classifyFailure(silent)).toBe("transient");
    } finally {
      sub.unsubscribe();
    }
  });

  test("a typed UnavailableError, and a socket error several causes down", () => {
    expect(classifyFailure(new UnavailableError("the vector store did not answer"))).toBe("transient");
    const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
    expect(classifyFailure(new Error("fetch failed", { cause: new Error("wrapped", { cause: reset }) }))).toBe("transient");
    const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    expect(classifyFailure(new AggregateError([refused, refused], "all addresses refused"))).toBe("transient");
  });
});

describe("what can never succeed is terminal", () => {
  test("Postgres refusing a value (class 22): a NUL in text", async ({ db }) => {
    const error = await failure(() => sql`select ${"a\u0000b"}::text`.execute(db));
    expect(error).toMatchObject({ code: expect.stringMatching(/^22/) });
    expect(classifyFailure(error)).toBe("terminal");
  });

  test("input nested deep enough to overflow the stack", () => {
    let deep: unknown = null;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    const error = (() => {
      try {
        return JSON.stringify(deep);
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(RangeError);
    expect(classifyFailure(error)).toBe("terminal");
  });

  test("typed refusals, forged claims and messages the bus refused", () => {
    expect(classifyFailure(new ValidationError("bad"))).toBe("terminal");
    expect(classifyFailure(new NotFoundError("agent", "x"))).toBe("terminal");
    expect(classifyFailure(new GalaxyError(503, "embedding_failed", "the provider refused", { retryable: false }))).toBe("terminal");
    expect(classifyFailure(new ClaimError("bad_signature", "no"))).toBe("terminal");
    expect(classifyFailure(new TerminalMessageError("bad_payload", "no"))).toBe("terminal");
  });
});

describe("anything else is unknown (a bug)", () => {
  test("a statement Postgres refuses on its merits, a TypeError, a 500, a thrown string", async ({ db }) => {
    const error = await failure(() => sql`select * from no_such_table_anywhere`.execute(db));
    expect(error).toMatchObject({ code: "42P01" });
    expect(classifyFailure(error)).toBe("unknown");
    expect(classifyFailure(new TypeError("cannot read properties of undefined"))).toBe("unknown");
    expect(classifyFailure(new GalaxyError(500, "internal_error", "boom"))).toBe("unknown");
    expect(classifyFailure("a string")).toBe("unknown");
    // A message that merely mentions a refused connection is no proof of one.
    expect(classifyFailure(new Error("connect ECONNREFUSED 10.0.0.1:5432"))).toBe("unknown");
  });
});
