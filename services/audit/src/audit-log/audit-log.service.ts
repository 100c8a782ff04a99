import type { EventMessage } from "@galaxy/bus";
import {
  ForbiddenError, authorize, pagination, principalOf, type AuditLogQuery, type PageQuery, type ReplyData, type WorkspaceClaim,
} from "@galaxy/contracts";
import { inWorkspace, type Kysely } from "@galaxy/db";
import type { Logger } from "@galaxy/observability";
import { CanonicalJsonError } from "../chain/canonical-json";
import { appendToChain, IncompleteAuditEntryError, verifyChain, type ChainVerification, type HashedAuditEntry } from "../chain/chain";
import type { AuditDb } from "../db";
import { DuplicateEventIdError, UnauditableEventError } from "../errors";
import {
  entryExists, insertEntry, listEntries, lockChain, readChainPage, readCheckpoint, readHead, toAuditEntry, toHashedEntry,
} from "./audit-log.repository";
import { isSystemOperator } from "../admin/security-incidents";
import { buildEntryDraft, type AuditSource } from "./entry";

/** How many entries verification reads per query. */
const VERIFY_PAGE_SIZE = 1_000;

/** What happened to an event handed to {@link AuditLogService.append}. */
export type AppendResult = { appended: true; entry: HashedAuditEntry } | { appended: false };

/** The audit log: appends events to their workspace's chain, lists and verifies it. */
export class AuditLogService {
  constructor(private readonly deps: { db: Kysely<AuditDb>; logger: Logger }) {}

  /**
   * Appends the event to its workspace's chain, once: an event already recorded (a
   * redelivery, a replay) changes nothing.
   *
   * Each event is its own transaction, one round trip after another. Replay and bursts
   * will want several messages per transaction (one lock and one head read per workspace
   * and batch, a multi-row insert) acked together after the commit; that needs a batch
   * handler from the bus, which applies one message at a time today.
   *
   * @throws {UnauditableEventError} the event cannot be hashed (never retried)
   * @throws {DuplicateEventIdError} the event id is an entry of another workspace (never retried)
   */
  async append(message: AuditSource & Pick<EventMessage, "streamSeq">): Promise<AppendResult> {
    const { event } = message;
    const draft = buildEntryDraft(message);
    try {
      return await inWorkspace(this.deps.db, event.workspaceId, async (tx) => {
        await lockChain(tx, event.workspaceId);
        // Checked under the lock: a second instance holding the same redelivered event
        // waits for the first to commit, then finds its entry.
        if (await entryExists(tx, event.id)) return { appended: false };
        const { head, lastStreamSeq } = await readHead(tx, event.workspaceId);
        if (lastStreamSeq !== null && lastStreamSeq > message.streamSeq) {
          this.deps.logger.warn(
            { eventId: event.id, workspaceId: event.workspaceId, streamSeq: message.streamSeq, lastStreamSeq },
            "event appended out of stream order; a rebuild will order this chain differently",
          );
        }
        const entry = appendToChain(head, draft);
        await insertEntry(tx, entry, message.streamSeq);
        return { appended: true, entry };
      });
    } catch (error) {
      if (error instanceof CanonicalJsonError || error instanceof IncompleteAuditEntryError) {
        throw new UnauditableEventError(`event ${event.id} cannot be hashed: ${error.message}`, { cause: error });
      }
      if (isUniqueViolation(error, "audit_logs_pkey")) throw new DuplicateEventIdError(event.id, { cause: error });
      // Class 22 is a value Postgres refuses (a time out of its range, …): the event's own fault.
      if (sqlState(error)?.startsWith("22")) throw new UnauditableEventError(`event ${event.id} cannot be stored: ${errorMessage(error)}`, { cause: error });
      throw error;
    }
  }

  /**
   * `audit.logs.list`: the claim's workspace's entries matching the filters, newest first.
   *
   * @throws {ForbiddenError} the principal's role may not read the audit log (below admin)
   */
  async list(claim: WorkspaceClaim, query: AuditLogQuery & PageQuery): Promise<ReplyData<"audit.logs.list">> {
    // The system workspace's log is read by system admins (operator claims) alone (CONTRACT §3).
    if (!authorize(principalOf(claim), "audit.read") && !isSystemOperator(claim)) {
      throw new ForbiddenError("Only admins and owners may read the audit log");
    }
    const { rows, total } = await inWorkspace(this.deps.db, claim.ws, (tx) => listEntries(tx, claim.ws, query));
    return { items: rows.map(toAuditEntry), pagination: pagination(total, query) };
  }

  /**
   * Checks the workspace's chain end to end, from its retention checkpoint (or genesis),
   * reading it in pages. The result names the first entry that fails, or the head.
   *
   * Each page is its own transaction: entries are only ever added after the head, so the
   * pages form one chain. Retention, once it removes prefixes, must not run concurrently
   * with a verification (or this must read in one snapshot).
   */
  async verifyWorkspace(workspaceId: string): Promise<ChainVerification> {
    let head = await inWorkspace(this.deps.db, workspaceId, (tx) => readCheckpoint(tx, workspaceId));
    let verified = 0;
    for (;;) {
      const afterSeq = head.seq;
      const rows = await inWorkspace(this.deps.db, workspaceId, (tx) => readChainPage(tx, workspaceId, afterSeq, VERIFY_PAGE_SIZE));
      const entries: HashedAuditEntry[] = [];
      let unreadable: number | null = null;
      for (const row of rows) {
        const entry = toHashedEntry(row);
        if (entry === null) {
          unreadable = row.seq;
          break;
        }
        entries.push(entry);
      }
      const result = verifyChain(entries, head);
      if (!result.valid) return { ...result, entries: verified + result.entries };
      verified += result.entries;
      if (unreadable !== null) {
        // A row that cannot be read back into an entry was altered: its hash cannot match.
        const expected = result.head.seq + 1;
        return unreadable === expected
          ? { valid: false, entries: verified, firstBadSeq: unreadable, reason: "hash_mismatch" }
          : { valid: false, entries: verified, firstBadSeq: expected, reason: "seq_gap" };
      }
      head = result.head;
      if (rows.length < VERIFY_PAGE_SIZE) return { valid: true, entries: verified, head };
    }
  }
}

function sqlState(error: unknown): string | undefined {
  return error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : undefined;
}

function isUniqueViolation(error: unknown, constraint: string): boolean {
  return sqlState(error) === "23505" && error instanceof Error && "constraint" in error && error.constraint === constraint;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
