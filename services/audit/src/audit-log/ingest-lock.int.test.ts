import { describe, expect, vi } from "vitest";
import type { ConsumerHandle } from "@galaxy/bus";
import { createDb, sql, type Kysely } from "@galaxy/db";
import { testLogger } from "@galaxy/testkit";
import { auditTest } from "../../test/support/audit-fixtures";
import type { AuditDb } from "../db";
import { AUDIT_LOCK_SPACE } from "./audit-log.repository";
import { IngestLock } from "./ingest-lock";

/** The file's own database (`env`) and audit's login-role connection to it (`db`); the service itself is not started. */
const test = auditTest();

/** An instance on `db` whose consumer only records that it runs. */
function instance(db: Kysely<AuditDb>, name: string, running: Set<string>) {
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
  test("one instance consumes at a time; when it stops, a standby takes over", async ({ db }) => {
    const running = new Set<string>();
    const [a, b, c] = [instance(db, "a", running), instance(db, "b", running), instance(db, "c", running)];
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

  test("the lock goes with its session: when the holder's connection dies, another instance takes over", async ({ env, db }) => {
    const running = new Set<string>();
    const a = instance(db, "a", running);
    a.start();
    await vi.waitFor(() => expect(running).toEqual(new Set(["a"])));
    const b = instance(db, "b", running);
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
