import { afterAll, beforeAll, describe, expect, inject, test, vi } from "vitest";
import type { ConsumerHandle } from "@galaxy/bus";
import { createDb, sql, type Kysely } from "@galaxy/db";
import { createTestEnv, serviceDb, testLogger, type TestEnv } from "@galaxy/testkit";
import type { AuditDb } from "../db";
import { AUDIT_LOCK_SPACE } from "./audit-log.repository";
import { IngestLock } from "./ingest-lock";

let env: TestEnv;
let db: Kysely<AuditDb>;

beforeAll(async () => {
  env = await createTestEnv(inject("engines"));
  db = serviceDb<AuditDb>(env, "audit");
});

afterAll(async () => {
  await db?.destroy();
  await env?.cleanup();
});

/** An instance whose consumer only records that it runs. */
function instance(name: string, running: Set<string>) {
  return new IngestLock({
    db,
    logger: testLogger("audit"),
    retryMs: 50,
    consume: async (): Promise<ConsumerHandle> => {
      running.add(name);
      return { stop: async () => void running.delete(name) };
    },
  });
}

describe("IngestLock", () => {
  test("one instance consumes at a time; when it stops, a standby takes over", async () => {
    const running = new Set<string>();
    const [a, b, c] = [instance("a", running), instance("b", running), instance("c", running)];
    a.start();
    await vi.waitFor(() => expect(running).toEqual(new Set(["a"])));
    b.start();
    c.start();
    // Standbys retry every 50 ms: many tries, none succeeds while a holds the lock.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(running).toEqual(new Set(["a"]));
    expect([a.isLeader(), b.isLeader(), c.isLeader()]).toEqual([true, false, false]);

    await a.stop();
    await vi.waitFor(() => expect(running.size).toBe(1));
    const [next] = [...running];
    expect(["b", "c"]).toContain(next);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(running.size).toBe(1);
    await Promise.all([b.stop(), c.stop()]);
    expect(running.size).toBe(0);
  });

  test("the lock goes with its session: when the holder's connection dies, another instance takes over", async () => {
    const running = new Set<string>();
    const a = instance("a", running);
    a.start();
    await vi.waitFor(() => expect(running).toEqual(new Set(["a"])));
    const b = instance("b", running);
    b.start();
    // Ends a's session as a crash or a lost connection would.
    const admin = createDb<AuditDb>({ connectionString: env.databaseUrl, schema: "audit", max: 1 });
    try {
      await sql`select pg_terminate_backend(pid) from pg_locks where locktype = 'advisory' and classid = ${AUDIT_LOCK_SPACE} and objid = 0 and objsubid = 2 and granted`.execute(admin);
    } finally {
      await admin.destroy();
    }
    await vi.waitFor(() => expect(running).toEqual(new Set(["b"])), { timeout: 5_000 });
    expect([a.isLeader(), b.isLeader()]).toEqual([false, true]);
    await Promise.all([a.stop(), b.stop()]);
  });
});
