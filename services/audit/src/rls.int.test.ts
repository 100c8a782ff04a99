import { randomUUID } from "node:crypto";
import { describe, expect } from "vitest";
import { inWorkspace, sql } from "@galaxy/db";
import { auditTest } from "../test/support/audit-fixtures";
import { insertEntriesAfter } from "../test/support/chain-seed";
import { GENESIS_HASH, GENESIS_HEAD, appendToChain, type HashedAuditEntry } from "./chain/chain";

/**
 * The file's own database: `db` as galaxy_audit, the role the service runs as; `admin` as the
 * bootstrap superuser. The service itself is not started.
 */
const test = auditTest();

const wsA = randomUUID();
const wsB = randomUUID();

function firstEntry(workspaceId: string): HashedAuditEntry {
  return appendToChain(GENESIS_HEAD, {
    id: randomUUID(),
    workspaceId,
    actor: { type: "user", id: "u1" },
    action: "agent.created",
    resourceType: "agent",
    resourceId: randomUUID(),
    changes: null,
    ipAddress: null,
    userAgent: null,
    traceId: null,
    occurredAt: "2025-01-02T03:04:05.678Z",
  });
}

test.beforeAll(async ({ db, admin }) => {
  // Written as the service writes them: proves the role may insert into its own workspace.
  await inWorkspace(db, wsA, (tx) => insertEntriesAfter(tx, wsA, GENESIS_HASH, [{ entry: firstEntry(wsA), streamSeq: 1 }]));
  await inWorkspace(db, wsB, (tx) => insertEntriesAfter(tx, wsB, GENESIS_HASH, [{ entry: firstEntry(wsB), streamSeq: 2 }]));
  await admin.insertInto("audit_checkpoints").values([{ workspace_id: wsA, seq: 7, hash: "a".repeat(64) }, { workspace_id: wsB, seq: 9, hash: "b".repeat(64) }]).execute();
});

async function sqlState(work: Promise<unknown> | (() => Promise<unknown>)): Promise<string | undefined> {
  try {
    await (typeof work === "function" ? work() : work);
    return undefined;
  } catch (error) {
    return error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : "no sqlstate";
  }
}

const INSUFFICIENT_PRIVILEGE = "42501";

describe("as galaxy_audit", () => {
  test("runs as the login role, not as the owner or a superuser", async ({ db }) => {
    const { rows } = await sql<{ role: string; superuser: boolean; bypass: boolean }>`
      select current_user as role, r.rolsuper as superuser, r.rolbypassrls as bypass from pg_roles r where r.rolname = current_user`.execute(db);
    expect(rows).toEqual([{ role: "galaxy_audit", superuser: false, bypass: false }]);
  });

  test("sees no entry and no checkpoint without a workspace set", async ({ db }) => {
    expect(await db.selectFrom("audit_logs").select("id").execute()).toEqual([]);
    expect(await db.selectFrom("audit_checkpoints").select("seq").execute()).toEqual([]);
  });

  test("sees the set workspace's rows alone", async ({ db }) => {
    const seen = await inWorkspace(db, wsA, async (tx) => ({
      logs: await tx.selectFrom("audit_logs").select("workspace_id").execute(),
      checkpoints: await tx.selectFrom("audit_checkpoints").select("seq").execute(),
    }));
    expect(seen).toEqual({ logs: [{ workspace_id: wsA }], checkpoints: [{ seq: 7 }] });
  });

  test("cannot write an entry into another workspace", async ({ db, admin }) => {
    const state = await sqlState(inWorkspace(db, wsA, (tx) => insertEntriesAfter(tx, wsB, GENESIS_HASH, [{ entry: firstEntry(wsB), streamSeq: 3 }])));
    expect(state).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await admin.selectFrom("audit_logs").select("id").where("workspace_id", "=", wsB).execute()).toHaveLength(1);
  });

  test("cannot update, delete or truncate entries, even its own workspace's", async ({ db, admin }) => {
    const attempts = [
      () => inWorkspace(db, wsA, (tx) => tx.updateTable("audit_logs").set({ actor_id: "someone-else" }).where("workspace_id", "=", wsA).execute()),
      () => inWorkspace(db, wsA, (tx) => tx.deleteFrom("audit_logs").where("workspace_id", "=", wsA).execute()),
      () => sql`truncate audit_logs`.execute(db),
    ];
    for (const attempt of attempts) expect(await sqlState(attempt)).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await admin.selectFrom("audit_logs").select(["actor_id"]).where("workspace_id", "=", wsA).execute()).toEqual([{ actor_id: "u1" }]);
  });

  test("cannot write checkpoints, which only retention moves", async ({ db }) => {
    const attempts = [
      () => inWorkspace(db, wsA, (tx) => tx.insertInto("audit_checkpoints").values({ workspace_id: wsA, seq: 8, hash: "c".repeat(64) }).execute()),
      () => inWorkspace(db, wsA, (tx) => tx.updateTable("audit_checkpoints").set({ seq: 1 }).where("workspace_id", "=", wsA).execute()),
      () => inWorkspace(db, wsA, (tx) => tx.deleteFrom("audit_checkpoints").where("workspace_id", "=", wsA).execute()),
    ];
    for (const attempt of attempts) expect(await sqlState(attempt)).toBe(INSUFFICIENT_PRIVILEGE);
  });

  test("cannot alter its tables or read another service's schema", async ({ db }) => {
    expect(await sqlState(sql`alter table audit_logs disable row level security`.execute(db))).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await sqlState(sql`drop policy workspace_isolation on audit_logs`.execute(db))).toBe(INSUFFICIENT_PRIVILEGE);
    for (const table of ["identity.users", "registry.agents", "execution.executions", "gateway.idempotency_keys"]) {
      expect(await sqlState(sql`select 1 from ${sql.raw(table)} limit 1`.execute(db)), table).toBe(INSUFFICIENT_PRIVILEGE);
    }
  });
});
