import { z } from "zod";
import { AuditActor, cursorPage, decodeCursor, encodeCursor, pagination, type AuditEntry, type AuditLogQuery, type CursorPageQuery, type Pagination } from "@galaxy/contracts";
import { sql, type Selectable, type Transaction } from "@galaxy/db";
import type { JsonValue } from "../chain/canonical-json";
import { GENESIS_HEAD, type AuditChanges, type ChainHead, type HashedAuditEntry } from "../chain/chain";
import type { AuditDb, AuditLogsTable } from "../db";

type Tx = Transaction<AuditDb>;
export type AuditLogRow = Selectable<AuditLogsTable>;

/**
 * The first key of audit's advisory locks: `(AUDIT_LOCK_SPACE, hashtext(workspace id))` is a
 * chain's lock (here, and in the retention and reset functions of the migrations), and
 * `(AUDIT_LOCK_SPACE, 0)` the lock of the instance that consumes (`ingest-lock.ts`).
 * Advisory locks are one namespace per database, shared with every other schema's code: the
 * two-key form with a key of audit's own keeps these from meeting anyone else's (two-int keys
 * never collide with the one-bigint keys the bootstrap uses).
 */
export const AUDIT_LOCK_SPACE = 0x61756474; // "audt"

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

const LIST = "audit_logs";

/**
 * One page of the workspace's entries matching the filters, newest first. With a cursor, the
 * page starts below the cursor's `seq` (a keyset on the workspace's chain), and nothing is
 * counted; without one, it is the offset form with its `total` (docs/api.md, Pagination).
 */
export async function listEntries(tx: Tx, workspaceId: string, query: AuditLogQuery & CursorPageQuery): Promise<{ rows: AuditLogRow[]; pagination: Pagination }> {
  const { limit, offset, cursor, ...filters } = query;
  const nextCursor = (last: AuditLogRow) => encodeCursor(LIST, filters, Number(last.seq));
  const filtered = filteredEntries(tx, workspaceId, query);
  if (cursor === undefined) {
    const rows = await filtered.selectAll().orderBy("seq", "desc").limit(limit).offset(offset).execute();
    const count = await filtered.select((eb) => eb.fn.countAll<number>().as("total")).executeTakeFirstOrThrow();
    const page = pagination(Number(count.total), query);
    const last = rows.at(-1);
    return { rows, pagination: { ...page, nextCursor: page.hasMore && last ? nextCursor(last) : null } };
  }
  const belowSeq = decodeCursor(LIST, filters, cursor, z.number().int().min(1));
  const rows = await (belowSeq === undefined ? filtered : filtered.where("seq", "<", belowSeq)).selectAll().orderBy("seq", "desc").limit(limit + 1).execute();
  const page = cursorPage(rows, limit, nextCursor);
  return { rows: page.items, pagination: page.pagination };
}

/** Entries matching the filters with `afterSeq < seq <= throughSeq`, oldest first, at most `limit`. */
export async function exportEntries(
  tx: Tx,
  workspaceId: string,
  query: AuditLogQuery & { afterSeq: number; throughSeq: number; limit: number },
): Promise<AuditLogRow[]> {
  return filteredEntries(tx, workspaceId, query)
    .where("seq", ">", query.afterSeq)
    .where("seq", "<=", query.throughSeq)
    .selectAll()
    .orderBy("seq")
    .limit(query.limit)
    .execute();
}

/** The `seq` of the workspace's newest entry, or of its checkpoint when no entry is left. */
export async function headSeq(tx: Tx, workspaceId: string): Promise<number> {
  return (await readHead(tx, workspaceId)).head.seq;
}

/**
 * The last `seq` retention may remove for `cutoff`: the end of the longest prefix of the chain
 * whose entries all occurred before it (the chain's order is the stream's, which a late event
 * can leave slightly out of time order). Null when not even the first entry qualifies.
 */
export async function retainableThrough(tx: Tx, workspaceId: string, cutoff: Date): Promise<number | null> {
  const row = await tx
    .selectFrom("audit_logs")
    .select((eb) => [
      eb.fn.min("seq").as("first"),
      eb.fn.max("seq").as("last"),
      sql<string | null>`min(seq) filter (where occurred_at_ts >= ${cutoff.toISOString()}::timestamptz)`.as("firstYoung"),
    ])
    .where("workspace_id", "=", workspaceId)
    .executeTakeFirstOrThrow();
  if (row.first === null || row.last === null) return null;
  const through = row.firstYoung === null ? Number(row.last) : Number(row.firstYoung) - 1;
  return through >= Number(row.first) ? through : null;
}

/** The workspace's entries matching the list filters (the same for list and export). */
function filteredEntries(tx: Tx, workspaceId: string, query: AuditLogQuery) {
  let filtered = tx.selectFrom("audit_logs").where("workspace_id", "=", workspaceId);
  if (query.action !== undefined) filtered = filtered.where("action", "=", query.action);
  if (query.resourceType !== undefined) filtered = filtered.where("resource_type", "=", query.resourceType);
  if (query.resourceId !== undefined) filtered = filtered.where("resource_id", "=", query.resourceId);
  if (query.actorId !== undefined) filtered = filtered.where("actor_id", "=", query.actorId);
  // Half-open [since, until): consecutive windows neither overlap nor leave a gap.
  if (query.since !== undefined) filtered = filtered.where(sql<boolean>`occurred_at_ts >= ${query.since}::timestamptz`);
  if (query.until !== undefined) filtered = filtered.where(sql<boolean>`occurred_at_ts < ${query.until}::timestamptz`);
  return filtered;
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

/** A stored row as the API shows it (docs/api.md "Audit entry"). */
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
