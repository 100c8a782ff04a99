import { sql, type Kysely } from "@galaxy/db";
import { z } from "zod";
import type { ChainHead, HashedAuditEntry } from "../chain/chain";
import type { AuditDb } from "../db";

/**
 * The first key of the replay-hold lock of `ReplayHolds` (libs/db/src/replay-holds.ts), whose
 * second key is `hashtext('<consumer>:<workspace id>')`: `audit.append_entries` takes it
 * shared, as `ReplayHolds.live` does, so that a hold of the `audit` consumer starts only
 * after every live write that missed it has ended. The two must stay equal.
 */
export const AUDIT_HOLD_LOCK_SPACE = 0x72706c68; // "rplh"

/** One workspace's part of a call to `audit.append_entries`. */
export interface AppendGroup {
  workspaceId: string;
  /** Live events: answer `held` (and write nothing) while a reset replay holds the workspace. */
  checkHold: boolean;
  /** The hash the chain must end with (its last entry, checkpoint or genesis) for the rows to go in. */
  afterHash: string;
  /** The ids of `rows`: none may be an entry of the workspace already. */
  ids: readonly string[];
  rows: ReadonlyArray<{ entry: HashedAuditEntry; streamSeq: number }>;
}

/** What `audit.append_entries` answered for one workspace. */
export type AppendOutcome =
  | { workspaceId: string; status: "applied"; inserted: number }
  | { workspaceId: string; status: "held" }
  | { workspaceId: string; status: "stale"; head: ChainHead; lastStreamSeq: number | null; recorded: Set<string> };

const Answer = z.array(
  z.discriminatedUnion("status", [
    z.object({ ws: z.string(), status: z.literal("applied"), inserted: z.number().int() }),
    z.object({ ws: z.string(), status: z.literal("held") }),
    z.object({
      ws: z.string(),
      status: z.literal("stale"),
      seq: z.number().int(),
      hash: z.string(),
      stream_seq: z.number().int().nullable(),
      recorded: z.array(z.string()),
    }),
  ]),
);

/** An entry as the columns of its `audit_logs` row (the workspace comes from its group). */
export function entryColumns(entry: HashedAuditEntry, streamSeq: number) {
  return {
    id: entry.id,
    seq: entry.seq,
    stream_seq: streamSeq,
    actor_type: entry.actor.type,
    actor_id: entry.actor.id,
    action: entry.action,
    resource_type: entry.resourceType,
    resource_id: entry.resourceId,
    changes: entry.changes,
    ip_address: entry.ipAddress,
    user_agent: entry.userAgent,
    trace_id: entry.traceId,
    occurred_at: entry.occurredAt,
    hash: entry.hash,
    prev_hash: entry.prevHash,
  };
}

/**
 * Appends the groups' rows in one statement, so one transaction (`audit.append_entries`,
 * in the migration `2026_12_04_23_00_00_append_entries`): per workspace all its rows or none.
 * `groups` must be in workspace id order.
 */
export async function appendEntries(db: Kysely<AuditDb>, groups: readonly AppendGroup[]): Promise<AppendOutcome[]> {
  const payload = groups.map((group) => ({
    ws: group.workspaceId,
    check_hold: group.checkHold,
    after_hash: group.afterHash,
    ids: group.ids,
    rows: group.rows.map(({ entry, streamSeq }) => entryColumns(entry, streamSeq)),
  }));
  const { rows } = await sql<{ answer: unknown }>`select audit.append_entries(${JSON.stringify(payload)}::jsonb) as answer`.execute(db);
  return Answer.parse(rows[0]?.answer).map((item): AppendOutcome => {
    switch (item.status) {
      case "applied":
        return { workspaceId: item.ws, status: "applied", inserted: item.inserted };
      case "held":
        return { workspaceId: item.ws, status: "held" };
      case "stale":
        return { workspaceId: item.ws, status: "stale", head: { seq: item.seq, hash: item.hash }, lastStreamSeq: item.stream_seq, recorded: new Set(item.recorded) };
    }
  });
}
