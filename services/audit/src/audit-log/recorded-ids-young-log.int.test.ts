import { randomUUID } from "node:crypto";
import { expect } from "vitest";
import { sql, type Kysely } from "@galaxy/db";
import { GENESIS_HASH } from "../chain/chain";
import type { AuditDb } from "../db";
import { auditTest } from "../../test/support/audit-fixtures";

// A connection keeps the plans of `audit.append_entries` for as long as it lives. The ids of a
// batch must still be looked up one by one once the log has grown, whatever the log was when
// the connection first wrote (docs/audit-chain.md, "Ingest"). This file's database is its own:
// its log starts empty, as a new installation's does.
const test = auditTest();

const ENTRIES = 20_000;

/** A batch of one workspace with 150 ids and no rows, on a chain that is empty: answered `applied`, nothing written. */
function emptyBatch(db: Kysely<AuditDb>, workspaceId: string) {
  const ids = Array.from({ length: 150 }, () => randomUUID());
  const groups = [{ ws: workspaceId, check_hold: false, after_hash: GENESIS_HASH, ids, rows: [] }];
  return sql<{ answer: unknown }>`select audit.append_entries(${JSON.stringify(groups)}::jsonb) as answer`.execute(db);
}

test("a connection that first wrote to an empty log does not read the whole log once it has grown", async ({ admin }) => {
  const [workspaceId, other] = [randomUUID(), randomUUID()];
  // No statistics meanwhile, as in a new database's first minute.
  await sql`alter table audit.audit_logs set (autovacuum_enabled = false)`.execute(admin);
  const read = await admin.connection().execute(async (connection) => {
    // More calls than PostgreSQL plans afresh before it keeps one plan for the connection (five).
    for (let i = 0; i < 8; i++) {
      const { rows } = await emptyBatch(connection, workspaceId);
      expect(rows[0]?.answer).toEqual([{ ws: workspaceId, status: "applied", inserted: 0 }]);
    }
    // The log grows, by another workspace's entries (the ids are looked up in the whole table).
    await sql`insert into audit.audit_logs (id, workspace_id, seq, stream_seq, actor_type, actor_id, action, resource_type, resource_id, occurred_at, occurred_at_ts, hash, prev_hash)
              select gen_random_uuid(), ${other}, n, n, 'user', 'u', 'agent.activated', 'agent', 'a', '2026-12-06T00:00:00.000Z', now(), ${"a".repeat(64)}, ${"b".repeat(64)}
                from generate_series(1, ${ENTRIES}) n`.execute(connection);
    // What one more batch reads, counted within its own transaction.
    await sql`begin`.execute(connection);
    try {
      await emptyBatch(connection, workspaceId);
      const { rows } = await sql<{ seq_tup_read: string; idx_scan: string }>`
        select seq_tup_read, idx_scan from pg_stat_xact_user_tables where schemaname = 'audit' and relname = 'audit_logs'`.execute(connection);
      return { rowsScanned: Number(rows[0]?.seq_tup_read), indexScans: Number(rows[0]?.idx_scan) };
    } finally {
      await sql`commit`.execute(connection);
    }
  });
  // With the plan kept from the empty log, the batch read all 20,000 entries.
  expect(read.rowsScanned).toBeLessThan(ENTRIES);
  expect(read.indexScans).toBeGreaterThanOrEqual(150);
});
