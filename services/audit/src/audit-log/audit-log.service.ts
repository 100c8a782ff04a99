import type { EventMessage } from "@galaxy/bus";
import {
  ForbiddenError, authorize, principalOf, type AuditExportPage, type AuditExportPageRequest, type AuditLogQuery, type AuditVerification,
  type AuditVerifyRequest, type CursorPageQuery, type ReplyData, type WorkspaceClaim,
} from "@galaxy/contracts";
import { inWorkspace, sql, type Kysely, type Transaction } from "@galaxy/db";
import type { Logger } from "@galaxy/observability";
import { CanonicalJsonError } from "../chain/canonical-json";
import {
  appendToChain, IncompleteAuditEntryError, verifyChain, type AuditEntryDraft, type ChainHead, type ChainVerification, type HashedAuditEntry,
} from "../chain/chain";
import type { AuditDb } from "../db";
import { DuplicateEventIdError, UnauditableEventError } from "../errors";
import {
  enterChain, existingIds, exportEntries, headSeq, insertEntriesAfter, listEntries, readChainPage, readCheckpoint, readHead, toAuditEntry, toHashedEntry,
  type AuditLogRow,
} from "./audit-log.repository";
import { isSystemOperator } from "../admin/security-incidents";
import { buildEntryDraft, type AuditSource } from "./entry";

/** How many entries verification reads per query. */
const VERIFY_PAGE_SIZE = 1_000;

/** What happened to an event handed to {@link AuditLogService.applyEvents}. */
export type AppendResult = { appended: true; entry: HashedAuditEntry } | { appended: false };

/** An event as the audit log takes it: the event, its headers, and where it sat in `EVENTS`. */
export type AuditMessage = AuditSource & Pick<EventMessage, "streamSeq">;

/** A chain's head as the writer keeps it, with the stream position of its last entry. */
type KnownHead = { head: ChainHead; lastStreamSeq: number | null };

/** The audit log: appends events to their workspace's chain, lists and verifies it. */
export class AuditLogService {
  /** Each workspace's chain head as this instance last wrote or read it. */
  private readonly heads = new Map<string, KnownHead>();

  constructor(private readonly deps: { db: Kysely<AuditDb>; logger: Logger }) {}

  /**
   * Appends one event to its workspace's chain, once: {@link applyEvents} of a batch of one.
   *
   * @throws {UnauditableEventError} the event cannot be hashed (never retried)
   * @throws {DuplicateEventIdError} the event id is an entry of another workspace (never retried)
   */
  async append(message: AuditMessage): Promise<AppendResult> {
    const [result] = await this.applyEvents([message]);
    if (!result) throw new Error("applyEvents returned no result for the event");
    return result;
  }

  /**
   * Appends events to their workspaces' chains, in the order given (stream order), each
   * once: an event already recorded (a redelivery, a replay) changes nothing. The live
   * consumer and replay both come through here.
   *
   * The whole batch is one transaction: for each workspace in it (in id order, so that two
   * instances never wait on each other's locks in a circle) `app.workspace_id` is set and
   * the chain locked in one statement, then its events go in with one multi-row insert.
   * Each chain's head is kept in memory between calls; the insert checks, in the same
   * statement, that the chain still ends there and that none of the events is recorded
   * yet, and otherwise writes nothing. Then (another instance appended, a reset emptied the
   * chain, a redelivery) the recorded ids and the head are read and the insert repeated.
   * A failure rolls back the whole batch and forgets the heads of its workspaces.
   *
   * @returns one result per event, in the order given
   * @throws {UnauditableEventError} an event cannot be hashed or stored (never retried)
   * @throws {DuplicateEventIdError} an event id is an entry of another workspace (never retried)
   */
  async applyEvents(batch: readonly AuditMessage[]): Promise<AppendResult[]> {
    const groups = [...groupByWorkspace(batch)]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([workspaceId, messages]) => ({ workspaceId, drafts: messages.map((message) => ({ message, draft: this.draftOf(message) })) }));
    const results = new Map<AuditMessage, AppendResult>();
    try {
      const heads = await this.deps.db.transaction().execute(async (tx) => {
        const moved: Array<[string, KnownHead]> = [];
        for (const { workspaceId, drafts } of groups) {
          // Every statement from here until the next workspace sees this workspace's rows alone.
          await enterChain(tx, workspaceId);
          const applied = await this.applyToChain(tx, workspaceId, drafts);
          for (const [message, result] of applied.results) results.set(message, result);
          moved.push([workspaceId, applied.head]);
        }
        return moved;
      });
      // Kept only once committed: a rolled-back head was never stored.
      for (const [workspaceId, head] of heads) this.heads.set(workspaceId, head);
    } catch (error) {
      for (const { workspaceId } of groups) this.heads.delete(workspaceId);
      throw this.typed(error, batch);
    }
    return batch.map((message) => results.get(message) ?? { appended: false });
  }

  /** Forgets the head kept in memory for a workspace (after its chain was reset). */
  forgetHead(workspaceId: string): void {
    this.heads.delete(workspaceId);
  }

  private draftOf(message: AuditMessage): AuditEntryDraft {
    try {
      return buildEntryDraft(message);
    } catch (error) {
      throw this.typed(error, [message]);
    }
  }

  /**
   * One workspace's events, its chain locked. First from the head in memory, assuming none
   * of the events is recorded (one statement); when that writes nothing, from what the
   * table says (two reads, then the insert, which must then go in).
   */
  private async applyToChain(
    tx: Transaction<AuditDb>,
    workspaceId: string,
    drafts: ReadonlyArray<{ message: AuditMessage; draft: AuditEntryDraft }>,
  ): Promise<{ results: Map<AuditMessage, AppendResult>; head: KnownHead }> {
    const known = this.heads.get(workspaceId);
    if (known) {
      const attempt = this.chainAfter(workspaceId, known, drafts, new Set());
      if ((await insertEntriesAfter(tx, workspaceId, known.head.hash, attempt.rows)) === attempt.rows.length) return attempt;
      this.deps.logger.debug({ workspaceId }, "the chain moved since this instance last wrote it, or an event is recorded already; reading it again");
    }
    // Under the lock: a second instance holding the same redelivered event waited for the
    // first to commit, and finds its entry now.
    const recorded = await existingIds(tx, drafts.map(({ draft }) => draft.id));
    const start = await readHead(tx, workspaceId);
    const attempt = this.chainAfter(workspaceId, start, drafts, recorded);
    const inserted = await insertEntriesAfter(tx, workspaceId, start.head.hash, attempt.rows);
    if (inserted !== attempt.rows.length) {
      throw new Error(`the chain of workspace ${workspaceId} moved under its lock (${inserted} of ${attempt.rows.length} entries inserted)`);
    }
    return attempt;
  }

  /** The entries `drafts` make after `start`, skipping recorded ids and repeats within the batch. */
  private chainAfter(
    workspaceId: string,
    start: KnownHead,
    drafts: ReadonlyArray<{ message: AuditMessage; draft: AuditEntryDraft }>,
    recorded: ReadonlySet<string>,
  ): { results: Map<AuditMessage, AppendResult>; rows: Array<{ entry: HashedAuditEntry; streamSeq: number }>; head: KnownHead } {
    const results = new Map<AuditMessage, AppendResult>();
    const rows: Array<{ entry: HashedAuditEntry; streamSeq: number }> = [];
    const seen = new Set(recorded);
    let head = start.head;
    let lastStreamSeq = start.lastStreamSeq;
    for (const { message, draft } of drafts) {
      if (seen.has(draft.id)) {
        results.set(message, { appended: false });
        continue;
      }
      seen.add(draft.id);
      if (lastStreamSeq !== null && lastStreamSeq > message.streamSeq) {
        this.deps.logger.warn(
          { eventId: draft.id, workspaceId, streamSeq: message.streamSeq, lastStreamSeq },
          "event appended out of stream order; a rebuild will order this chain differently",
        );
      }
      const entry = appendToChain(head, draft);
      rows.push({ entry, streamSeq: message.streamSeq });
      results.set(message, { appended: true, entry });
      head = { seq: entry.seq, hash: entry.hash };
      lastStreamSeq = message.streamSeq;
    }
    return { results, rows, head: { head, lastStreamSeq } };
  }

  /** The audit error an event's failure is, or the failure itself when it is not the event's fault. */
  private typed(error: unknown, messages: readonly AuditMessage[]): unknown {
    const ids = messages.map((m) => m.event.id).join(", ");
    if (error instanceof UnauditableEventError || error instanceof DuplicateEventIdError) return error;
    if (error instanceof CanonicalJsonError || error instanceof IncompleteAuditEntryError) {
      return new UnauditableEventError(`event ${ids} cannot be hashed: ${error.message}`, { cause: error });
    }
    if (isUniqueViolation(error, "audit_logs_pkey")) return new DuplicateEventIdError(ids, { cause: error });
    // Class 22 is a value Postgres refuses (a time out of its range, …): the event's own fault.
    if (sqlState(error)?.startsWith("22")) return new UnauditableEventError(`event ${ids} cannot be stored: ${errorMessage(error)}`, { cause: error });
    return error;
  }

  /**
   * `audit.logs.list`: the claim's workspace's entries matching the filters, newest first.
   *
   * @throws {ForbiddenError} the principal's role may not read the audit log (below admin)
   */
  async list(claim: WorkspaceClaim, query: AuditLogQuery & CursorPageQuery): Promise<ReplyData<"audit.logs.list">> {
    this.requireReader(claim);
    const page = await inWorkspace(this.deps.db, claim.ws, (tx) => listEntries(tx, claim.ws, query));
    return { items: page.rows.map(toAuditEntry), pagination: page.pagination };
  }

  /**
   * `audit.logs.verify`: the chain of the claim's workspace, or with an operator claim of the
   * system workspace the chain of any workspace (`galaxy audit verify --workspace`).
   *
   * @throws {ForbiddenError} below admin, or another workspace without an operator claim
   */
  async verify(claim: WorkspaceClaim, request: AuditVerifyRequest): Promise<AuditVerification> {
    const workspaceId = request.workspaceId ?? claim.ws;
    if (!isSystemOperator(claim)) {
      if (workspaceId !== claim.ws) throw new ForbiddenError("Only system admins may verify another workspace's audit log");
      if (!authorize(principalOf(claim), "audit.read")) throw new ForbiddenError("Only admins and owners may verify the audit log");
    }
    // The checkpoint the verification started from (a retention run may move it meanwhile).
    const { result, checkpoint } = await this.verifyChecked(workspaceId, {});
    const start = checkpoint.seq === 0 ? null : checkpoint;
    return result.valid
      ? { workspaceId, valid: true, entries: result.entries, head: result.head, checkpoint: start }
      : { workspaceId, valid: false, entries: result.entries, head: null, checkpoint: start, firstBadSeq: result.firstBadSeq, reason: result.reason };
  }

  /**
   * `audit.logs.export_page`: a page of the export the gateway streams, oldest first, with
   * the list's filters. The first page fixes `throughSeq` at the head, so an export ends.
   *
   * @throws {ForbiddenError} the principal's role may not read the audit log (below admin)
   */
  async exportPage(claim: WorkspaceClaim, request: AuditExportPageRequest): Promise<AuditExportPage> {
    this.requireReader(claim);
    return inWorkspace(this.deps.db, claim.ws, async (tx) => {
      const throughSeq = request.throughSeq ?? (await headSeq(tx, claim.ws));
      const rows = await exportEntries(tx, claim.ws, { ...request, throughSeq });
      return { items: rows.map(toAuditEntry), throughSeq };
    });
  }

  /**
   * Empties the workspace's chain (`audit.replay_reset`: only while a running reset replay holds
   * it, never a chain with a retention checkpoint, which stays) so that a replay can
   * rebuild it from `EVENTS`; the head kept in memory is forgotten. Returns the entries removed.
   * An operator action: only a replay with `reset` calls it.
   */
  async resetWorkspace(workspaceId: string): Promise<number> {
    this.heads.delete(workspaceId);
    try {
      const { rows } = await sql<{ removed: string | number }>`select audit.replay_reset(${workspaceId}::uuid) as removed`.execute(this.deps.db);
      return Number(rows[0]?.removed ?? 0);
    } finally {
      // A writer that read the old head while the reset waited for the chain lock must read it again.
      this.heads.delete(workspaceId);
    }
  }

  /**
   * Checks the workspace's chain end to end, from its retention checkpoint (or genesis),
   * reading it in pages. The result names the first entry that fails, or the head.
   *
   * Each page is its own transaction: entries are only ever added after the head, so the
   * pages form one chain. A retention run that moves the checkpoint meanwhile would look like
   * a gap: a verification that finds one checks whether the checkpoint moved, and if so
   * starts over from it (once).
   *
   * `throughSeq` stops at that entry (retention checks the prefix it removes); `onPage` sees
   * each page's rows once they verified (retention writes them to its export).
   */
  async verifyWorkspace(
    workspaceId: string,
    options: { throughSeq?: number; onPage?: (rows: AuditLogRow[]) => Promise<void> } = {},
  ): Promise<ChainVerification> {
    return (await this.verifyChecked(workspaceId, options)).result;
  }

  /** {@link verifyWorkspace}, with the checkpoint the verification that counts started from. */
  private async verifyChecked(
    workspaceId: string,
    options: { throughSeq?: number; onPage?: (rows: AuditLogRow[]) => Promise<void> },
  ): Promise<{ result: ChainVerification; checkpoint: ChainHead }> {
    for (let attempt = 1; ; attempt++) {
      const checkpoint = await inWorkspace(this.deps.db, workspaceId, (tx) => readCheckpoint(tx, workspaceId));
      const result = await this.verifyFrom(workspaceId, checkpoint, options);
      if (result.valid || result.reason !== "seq_gap" || attempt > 1 || options.onPage) return { result, checkpoint };
      const now = await inWorkspace(this.deps.db, workspaceId, (tx) => readCheckpoint(tx, workspaceId));
      if (now.seq === checkpoint.seq && now.hash === checkpoint.hash) return { result, checkpoint };
    }
  }

  private async verifyFrom(
    workspaceId: string,
    start: ChainHead,
    options: { throughSeq?: number; onPage?: (rows: AuditLogRow[]) => Promise<void> },
  ): Promise<ChainVerification> {
    let head = start;
    let verified = 0;
    for (;;) {
      const afterSeq = head.seq;
      const limit = options.throughSeq === undefined ? VERIFY_PAGE_SIZE : Math.min(VERIFY_PAGE_SIZE, options.throughSeq - afterSeq);
      if (limit <= 0) return { valid: true, entries: verified, head };
      const rows = await inWorkspace(this.deps.db, workspaceId, (tx) => readChainPage(tx, workspaceId, afterSeq, limit));
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
      if (options.throughSeq !== undefined && rows.length < limit && head.seq < options.throughSeq) {
        // The prefix asked for ends early: its last entries are missing.
        return { valid: false, entries: verified, firstBadSeq: head.seq + 1, reason: "seq_gap" };
      }
      await options.onPage?.(rows);
      if (rows.length < limit) return { valid: true, entries: verified, head };
    }
  }

  private requireReader(claim: WorkspaceClaim): void {
    // The system workspace's log is read by system admins (operator claims) alone (CONTRACT §3).
    if (!authorize(principalOf(claim), "audit.read") && !isSystemOperator(claim)) {
      throw new ForbiddenError("Only admins and owners may read the audit log");
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

/** The batch split by workspace, each part in the order given; workspaces in order of first appearance. */
function groupByWorkspace(batch: readonly AuditMessage[]): Map<string, AuditMessage[]> {
  const groups = new Map<string, AuditMessage[]>();
  for (const message of batch) {
    const group = groups.get(message.event.workspaceId);
    if (group) group.push(message);
    else groups.set(message.event.workspaceId, [message]);
  }
  return groups;
}
