import { AuditActor, type AuditEntry, type AuditLogQuery, type PageQuery } from "@galaxy/contracts";
import { sql, type Selectable, type Transaction } from "@galaxy/db";
import type { JsonValue } from "../chain/canonical-json";
import { GENESIS_HEAD, type AuditChanges, type ChainHead, type HashedAuditEntry } from "../chain/chain";
import type { AuditDb, AuditLogsTable } from "../db";

type Tx = Transaction<AuditDb>;
type AuditLogRow = Selectable<AuditLogsTable>;

// Advisory locks are one namespace per database, shared with every other schema's code:
// the two-key form with a key of audit's own keeps this lock from meeting anyone else's
// (two-int keys never collide with the one-bigint keys the bootstrap uses).
const CHAIN_LOCK_SPACE = 0x61756474; // "audt"

/**
 * Serializes the writers of one workspace's chain until the transaction ends, so two
 * instances (or a live event and a replay) can never both append after the same head.
 */
export async function lockChain(tx: Tx, workspaceId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(${CHAIN_LOCK_SPACE}::int, hashtext(${workspaceId}))`.execute(tx);
}

export async function entryExists(tx: Tx, id: string): Promise<boolean> {
  const row = await tx.selectFrom("audit_logs").select("id").where("id", "=", id).executeTakeFirst();
  return row !== undefined;
}

/** The head to append after: the last entry, else the retention checkpoint, else genesis. */
export async function readHead(tx: Tx, workspaceId: string): Promise<{ head: ChainHead; lastStreamSeq: number | null }> {
  const last = await tx
    .selectFrom("audit_logs")
    .select(["seq", "hash", "stream_seq"])
    .where("workspace_id", "=", workspaceId)
    .orderBy("seq", "desc")
    .limit(1)
    .executeTakeFirst();
  if (last) return { head: { seq: last.seq, hash: last.hash }, lastStreamSeq: last.stream_seq };
  return { head: await readCheckpoint(tx, workspaceId), lastStreamSeq: null };
}

/** Where the workspace's chain starts: its retention checkpoint, or genesis. */
export async function readCheckpoint(tx: Tx, workspaceId: string): Promise<ChainHead> {
  const checkpoint = await tx.selectFrom("audit_checkpoints").select(["seq", "hash"]).where("workspace_id", "=", workspaceId).executeTakeFirst();
  return checkpoint ? { seq: checkpoint.seq, hash: checkpoint.hash } : GENESIS_HEAD;
}

export async function insertEntry(tx: Tx, entry: HashedAuditEntry, streamSeq: number): Promise<void> {
  await tx
    .insertInto("audit_logs")
    .values({
      id: entry.id,
      workspace_id: entry.workspaceId,
      seq: entry.seq,
      stream_seq: streamSeq,
      actor_type: entry.actor.type,
      actor_id: entry.actor.id,
      action: entry.action,
      resource_type: entry.resourceType,
      resource_id: entry.resourceId,
      changes: entry.changes === null ? null : JSON.stringify(entry.changes),
      ip_address: entry.ipAddress,
      user_agent: entry.userAgent,
      trace_id: entry.traceId,
      occurred_at: entry.occurredAt,
      occurred_at_ts: entry.occurredAt,
      hash: entry.hash,
      prev_hash: entry.prevHash,
    })
    .execute();
}

/** One page of the workspace's entries matching the filters, newest first, and their total. */
export async function listEntries(
  tx: Tx,
  workspaceId: string,
  query: AuditLogQuery & PageQuery,
): Promise<{ rows: AuditLogRow[]; total: number }> {
  let filtered = tx.selectFrom("audit_logs").where("workspace_id", "=", workspaceId);
  if (query.action !== undefined) filtered = filtered.where("action", "=", query.action);
  if (query.resourceType !== undefined) filtered = filtered.where("resource_type", "=", query.resourceType);
  if (query.resourceId !== undefined) filtered = filtered.where("resource_id", "=", query.resourceId);
  if (query.actorId !== undefined) filtered = filtered.where("actor_id", "=", query.actorId);
  // Half-open [since, until): consecutive windows neither overlap nor leave a gap.
  if (query.since !== undefined) filtered = filtered.where(sql<boolean>`occurred_at_ts >= ${query.since}::timestamptz`);
  if (query.until !== undefined) filtered = filtered.where(sql<boolean>`occurred_at_ts < ${query.until}::timestamptz`);
  const rows = await filtered.selectAll().orderBy("seq", "desc").limit(query.limit).offset(query.offset).execute();
  const count = await filtered.select((eb) => eb.fn.countAll<number>().as("total")).executeTakeFirstOrThrow();
  return { rows, total: count.total };
}

/** Up to `limit` entries after `afterSeq`, in chain order. */
export async function readChainPage(tx: Tx, workspaceId: string, afterSeq: number, limit: number): Promise<AuditLogRow[]> {
  return tx
    .selectFrom("audit_logs")
    .selectAll()
    .where("workspace_id", "=", workspaceId)
    .where("seq", ">", afterSeq)
    .orderBy("seq")
    .limit(limit)
    .execute();
}

/**
 * A stored row as the chain sees it, or null when a column holds what no entry of ours
 * ever holds (an unknown actor type, `changes` that are not `{before, after}` JSON): only
 * tampering gets a row there, and its hash could not verify anyway.
 */
export function toHashedEntry(row: AuditLogRow): HashedAuditEntry | null {
  const actorType = ChainActorType.safeParse(row.actor_type);
  if (!actorType.success) return null;
  const changes = toChanges(row.changes);
  if (changes === undefined) return null;
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    seq: row.seq,
    actor: { type: actorType.data, id: row.actor_id },
    action: row.action,
    resourceType: row.resource_type,
    resourceId: row.resource_id,
    changes,
    ipAddress: row.ip_address,
    userAgent: row.user_agent,
    traceId: row.trace_id,
    occurredAt: row.occurred_at,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

/** A stored row as the API shows it (CONTRACT §1 "Audit entry"). */
export function toAuditEntry(row: AuditLogRow): AuditEntry {
  const actorType = AuditActor.shape.type.safeParse(row.actor_type);
  const changes = toChanges(row.changes);
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    seq: row.seq,
    // The column's check constraint admits only chain actor types; "service" is the
    // fallback for a row someone altered past it, which verification then reports.
    actor: { type: actorType.success ? actorType.data : "service", id: row.actor_id },
    action: row.action,
    resourceType: row.resource_type,
    resourceId: row.resource_id,
    changes: changes ?? null,
    ipAddress: row.ip_address,
    userAgent: row.user_agent,
    traceId: row.trace_id,
    occurredAt: row.occurred_at,
    hash: row.hash,
    prevHash: row.prev_hash,
  };
}

const ChainActorType = AuditActor.shape.type;

/** `changes` as hashed: null, or exactly `{before, after}` of JSON; undefined when neither. */
function toChanges(value: unknown): AuditChanges | null | undefined {
  if (value === null) return null;
  if (typeof value !== "object" || !("before" in value) || !("after" in value)) return undefined;
  const { before, after } = value;
  return isJsonValue(before) && isJsonValue(after) ? { before, after } : undefined;
}

function isJsonValue(value: unknown): value is JsonValue {
  if (value === null) return true;
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value);
    case "object":
      return Array.isArray(value) ? value.every(isJsonValue) : Object.values(value).every(isJsonValue);
    default:
      return false;
  }
}
