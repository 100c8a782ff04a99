import { sql, type Transaction } from "@galaxy/db";
import { entryColumns } from "../../src/audit-log/append-entries";
import { AUDIT_LOCK_SPACE } from "../../src/audit-log/audit-log.repository";
import { GENESIS_HEAD, type HashedAuditEntry } from "../../src/chain/chain";
import type { AuditDb } from "../../src/db";

// Writing audit entries directly, for tests that seed a chain or alter one (a broken chain, a
// chain of another instance): the service itself writes through `audit.append_entries`.

type Tx = Transaction<AuditDb>;

/**
 * Sets `app.workspace_id` for the rest of the transaction (or until the next call) and takes
 * that workspace's chain lock (which serializes the writers of one chain until the
 * transaction ends: two instances, or a live event and a replay, never both append after the
 * same head), in one round trip: how a batch that spans workspaces moves
 * from one to the next inside one transaction. Row-level security then shows and accepts
 * that workspace's rows alone, as `inWorkspace` does.
 */
export async function enterChain(tx: Tx, workspaceId: string): Promise<void> {
  await sql`select set_config('app.workspace_id', ${workspaceId}, true), pg_advisory_xact_lock(${AUDIT_LOCK_SPACE}::int, hashtext(${workspaceId}))`.execute(tx);
}

/** Which of `ids` are entries of this workspace already. */
export async function existingIds(tx: Tx, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await tx.selectFrom("audit_logs").select("id").where("id", "in", ids).execute();
  return new Set(rows.map((row) => row.id));
}

/**
 * Inserts consecutive entries of one workspace's chain in one statement, but only when the
 * chain still ends where the writer believes (`afterHash`: the hash of its last entry, else
 * of its checkpoint, else genesis) and none of the entries is recorded yet. Returns how many
 * rows went in: all, or 0 when the head the writer kept in memory is stale (another instance
 * appended, a reset emptied the chain) or an event was recorded already (a redelivery).
 */
export async function insertEntriesAfter(
  tx: Tx,
  workspaceId: string,
  afterHash: string,
  entries: ReadonlyArray<{ entry: HashedAuditEntry; streamSeq: number }>,
): Promise<number> {
  if (entries.length === 0) return 0;
  const rows = entries.map(({ entry, streamSeq }) => ({ ...entryColumns(entry, streamSeq), workspace_id: entry.workspaceId }));
  const result = await sql`
    insert into audit_logs (id, workspace_id, seq, stream_seq, actor_type, actor_id, action, resource_type, resource_id, changes,
                            ip_address, user_agent, trace_id, occurred_at, occurred_at_ts, hash, prev_hash)
    select r.id, r.workspace_id, r.seq, r.stream_seq, r.actor_type, r.actor_id, r.action, r.resource_type, r.resource_id, r.changes,
           r.ip_address, r.user_agent, r.trace_id, r.occurred_at, r.occurred_at::timestamptz, r.hash, r.prev_hash
      from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as r(
             id uuid, workspace_id uuid, seq bigint, stream_seq bigint, actor_type text, actor_id text, action text, resource_type text,
             resource_id text, changes jsonb, ip_address text, user_agent text, trace_id text, occurred_at text, hash text, prev_hash text)
     where coalesce((select hash from audit_logs where workspace_id = ${workspaceId} order by seq desc limit 1),
                    (select hash from audit_checkpoints where workspace_id = ${workspaceId}),
                    ${GENESIS_HEAD.hash}) = ${afterHash}
       and not exists (select 1 from audit_logs where id = any(${rows.map((row) => row.id)}::uuid[]))
     order by r.seq`.execute(tx);
  return Number(result.numAffectedRows ?? 0n);
}
