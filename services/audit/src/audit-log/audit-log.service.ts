import {
  ForbiddenError, authorize, principalOf, type AuditExportPage, type AuditExportPageRequest, type AuditLogQuery, type AuditVerification,
  type AuditVerifyRequest, type CursorPageQuery, type ReplyData, type WorkspaceClaim,
} from "@galaxy/contracts";
import { inWorkspace, sql, type Kysely } from "@galaxy/db";
import type { Logger } from "@galaxy/observability";
import { CanonicalJsonError } from "../chain/canonical-json";
import { IncompleteAuditEntryError, verifyChain, type AuditEntryDraft, type ChainHead, type ChainVerification, type HashedAuditEntry } from "../chain/chain";
import type { AuditDb } from "../db";
import { DuplicateEventIdError, UnauditableEventError } from "../errors";
import { exportEntries, headSeq, listEntries, readChainPage, readCheckpoint, toAuditEntry, toHashedEntry, type AuditLogRow } from "./audit-log.repository";
import { ChainWriter, type AppendResult, type AuditMessage } from "./chain-writer";
import { isSystemOperator } from "../admin/security-incidents";
import { buildEntryDraft } from "./entry";

/** How many entries verification reads per query. */
const VERIFY_PAGE_SIZE = 1_000;

export type { AppendResult, AuditMessage } from "./chain-writer";

/** The audit log: appends events to their workspace's chain, lists and verifies it. */
export class AuditLogService {
  /** Keeps each workspace's chain head in memory and writes a batch in one statement. */
  private readonly writer: ChainWriter;
  /** Drafts made ahead of their batch's turn ({@link hashAhead}), kept while their message lives. */
  private readonly drafted = new WeakMap<AuditMessage, AuditEntryDraft>();

  constructor(private readonly deps: { db: Kysely<AuditDb>; logger: Logger }) {
    this.writer = new ChainWriter(deps);
  }

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
   * once: an event already recorded (a redelivery, a replay) changes nothing. Live events
   * whose replay holds were checked already (`ReplayHolds.live`) come through here; the live
   * consumer and replays (through the bus's batch handler, docs/replay.md) come through
   * {@link applyLive}.
   *
   * One statement, so one transaction, per batch in the common case (`ChainWriter`): per
   * workspace all its events or none. A workspace whose chain moved since this instance last
   * wrote it (or is new to it) costs one more statement.
   *
   * @returns one result per event, in the order given
   * @throws {UnauditableEventError} an event cannot be hashed or stored (never retried)
   * @throws {DuplicateEventIdError} an event id is an entry of another workspace (never retried)
   */
  async applyEvents(batch: readonly AuditMessage[]): Promise<AppendResult[]> {
    const { results } = await this.write(batch, false);
    return batch.map((message) => results.get(message) ?? { appended: false });
  }

  /**
   * The live consumer's path: {@link applyEvents}, with each workspace's replay hold checked in
   * the same statement. The events of a workspace a reset replay holds are not written: they
   * come back, in order, for `ReplayHolds.live` to keep aside (docs/replay.md).
   */
  async applyLive<M extends AuditMessage>(batch: readonly M[]): Promise<{ held: M[] }> {
    const { held } = await this.write(batch, true);
    return { held };
  }

  /**
   * Drafts and hashes a batch that will be applied after the one being applied now (a replay's
   * next batch), so that this work overlaps that one's write; {@link applyEvents} of the same
   * messages then uses what still fits the chains. A message whose draft fails ends its
   * workspace's work ahead: {@link applyEvents} reports it.
   */
  hashAhead(batch: readonly AuditMessage[]): void {
    const groups = [...groupByWorkspace(batch)].map(([workspaceId, messages]) => {
      const drafts: Array<{ message: AuditMessage; draft: AuditEntryDraft }> = [];
      for (const message of messages) {
        try {
          const draft = buildEntryDraft(message);
          this.drafted.set(message, draft);
          drafts.push({ message, draft });
        } catch {
          break;
        }
      }
      return { workspaceId, drafts };
    });
    this.writer.hashAhead(groups);
  }

  /** Forgets the head kept in memory for a workspace (after its chain was reset). */
  forgetHead(workspaceId: string): void {
    this.writer.forget(workspaceId);
  }

  private async write<M extends AuditMessage>(batch: readonly M[], checkHolds: boolean) {
    const groups = [...groupByWorkspace(batch)].map(([workspaceId, messages]) => ({ workspaceId, drafts: messages.map((message) => ({ message, draft: this.draftOf(message) })) }));
    try {
      return await this.writer.write(groups, { checkHolds });
    } catch (error) {
      throw this.typed(error, batch);
    }
  }

  private draftOf(message: AuditMessage): AuditEntryDraft {
    const ahead = this.drafted.get(message);
    if (ahead) return ahead;
    try {
      return buildEntryDraft(message);
    } catch (error) {
      throw this.typed(error, [message]);
    }
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
    this.writer.forget(workspaceId);
    try {
      const { rows } = await sql<{ removed: string | number }>`select audit.replay_reset(${workspaceId}::uuid) as removed`.execute(this.deps.db);
      return Number(rows[0]?.removed ?? 0);
    } finally {
      // A writer that read the old head while the reset waited for the chain lock must read it again.
      this.writer.forget(workspaceId);
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
    // The system workspace's log is read by system admins (operator claims) alone (docs/bus.md).
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
function groupByWorkspace<M extends AuditMessage>(batch: readonly M[]): Map<string, M[]> {
  const groups = new Map<string, M[]>();
  for (const message of batch) {
    const group = groups.get(message.event.workspaceId);
    if (group) group.push(message);
    else groups.set(message.event.workspaceId, [message]);
  }
  return groups;
}
