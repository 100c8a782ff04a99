import type { EventMessage } from "@galaxy/bus";
import type { Kysely } from "@galaxy/db";
import type { Logger } from "@galaxy/observability";
import { appendToChain, GENESIS_HEAD, type AuditEntryDraft, type ChainHead, type HashedAuditEntry } from "../chain/chain";
import type { AuditDb } from "../db";
import { appendEntries, type AppendGroup } from "./append-entries";
import type { AuditSource } from "./entry";

/** What happened to an event handed to the writer. */
export type AppendResult = { appended: true; entry: HashedAuditEntry } | { appended: false };

/** An event as the audit log takes it: the event, its headers, where it sat in `EVENTS`, and whether a replay brought it. */
export type AuditMessage = AuditSource & Pick<EventMessage, "streamSeq"> & { replayId?: string | undefined };

/** A chain's head as the writer keeps it, with the stream position of its last entry. */
export interface KnownHead {
  head: ChainHead;
  lastStreamSeq: number | null;
}

/** A chain this writer has not seen yet: assumed new (genesis) until the database says otherwise. */
const UNSEEN: KnownHead = { head: GENESIS_HEAD, lastStreamSeq: null };

type Drafted<M> = { message: M; draft: AuditEntryDraft };
type Group<M> = { workspaceId: string; drafts: Array<Drafted<M>> };
/** What the calls for one batch have learnt so far. */
type RoundState<M> = { results: Map<M, AppendResult>; held: M[]; recorded: Map<string, ReadonlySet<string>>; checkHolds: boolean };

/**
 * Writes batches of entries, of any number of workspaces, with one statement per batch
 * (`audit.append_entries`): each workspace's chain head is kept in memory, so the entries are
 * hashed before the call; the database checks in the same statement that each chain still
 * ends there and that no event is recorded yet, and otherwise writes nothing for that
 * workspace and answers its head and recorded ids (another instance appended, a reset emptied
 * the chain, a redelivery, or this writer has not seen the chain yet): the writer then hashes
 * again from there and calls once more. docs/audit-chain.md, "Ingest".
 */
export class ChainWriter {
  private readonly heads = new Map<string, KnownHead>();
  /** Where the entries hashed ahead end, per workspace: ahead of `heads` until their batch is written. */
  private readonly aheadHeads = new Map<string, ChainHead>();
  /** Entries hashed ahead of their write, with the head they follow; used when the chain still ends there. */
  private readonly hashedAhead = new WeakMap<AuditMessage, { after: ChainHead; entry: HashedAuditEntry }>();

  constructor(private readonly deps: { db: Kysely<AuditDb>; logger: Logger }) {}

  /** Forgets the head kept for a workspace (its chain was reset): the next write reads it. */
  forget(workspaceId: string): void {
    this.heads.delete(workspaceId);
    this.aheadHeads.delete(workspaceId);
  }

  /**
   * Hashes the entries of a batch that will be written after the one being written now (a
   * replay's next batch), from where that one will leave each chain, so that their hashing
   * overlaps its write. {@link write} uses an entry hashed ahead only when the chain ends, at
   * its turn, where the entry was hashed from; otherwise it hashes it again. Never throws: an
   * entry that cannot be hashed ends its workspace's work ahead, and {@link write} reports it.
   */
  hashAhead<M extends AuditMessage>(groups: ReadonlyArray<Group<M>>): void {
    for (const { workspaceId, drafts } of groups) {
      // From the batches hashed ahead and not written yet, if any; else from the head written last.
      const written = (this.heads.get(workspaceId) ?? UNSEEN).head;
      const ahead = this.aheadHeads.get(workspaceId);
      let head = ahead && ahead.seq > written.seq ? ahead : written;
      for (const { message, draft } of drafts) {
        let entry: HashedAuditEntry;
        try {
          entry = appendToChain(head, draft);
        } catch {
          // An entry that cannot be hashed: {@link write} reports it at its turn.
          break;
        }
        this.hashedAhead.set(message, { after: head, entry });
        head = { seq: entry.seq, hash: entry.hash };
      }
      this.aheadHeads.set(workspaceId, head);
    }
  }

  /**
   * Appends the drafts, each workspace's in the order given; when `checkHolds`, live events of
   * a workspace a reset replay holds are not written and come back in `held`.
   * A failure forgets the heads of the batch's workspaces (what committed is read again).
   */
  async write<M extends AuditMessage>(groups: ReadonlyArray<Group<M>>, options: { checkHolds: boolean }): Promise<{ results: Map<M, AppendResult>; held: M[] }> {
    const state: RoundState<M> = { results: new Map(), held: [], recorded: new Map(), checkHolds: options.checkHolds };
    const sorted = [...groups].sort((a, b) => (a.workspaceId < b.workspaceId ? -1 : a.workspaceId > b.workspaceId ? 1 : 0));
    try {
      const stale = await this.round(this.deps.db, sorted, state);
      if (stale.length > 0) {
        // Hashed again from the heads the database answered, in one transaction: its first call
        // takes the chains' locks (and answers the heads again, should they have moved once
        // more), which it keeps until the commit, so the second call cannot find them moved.
        await this.deps.db.transaction().execute(async (tx) => {
          const again = await this.round(tx, stale, state);
          const moved = again.length > 0 ? await this.round(tx, again, state) : [];
          if (moved.length > 0) throw new Error(`the chain of workspace ${moved[0]?.workspaceId ?? "?"} moved under its lock`);
        });
      }
    } catch (error) {
      for (const { workspaceId } of groups) this.forget(workspaceId);
      throw error;
    }
    return { results: state.results, held: state.held };
  }

  /** One call of `audit.append_entries` for `groups`; answers the groups whose chain was not where this writer believed. */
  private async round<M extends AuditMessage>(db: Kysely<AuditDb>, groups: ReadonlyArray<Group<M>>, state: RoundState<M>): Promise<Array<Group<M>>> {
    const plans = groups.map((group) => ({ group, start: this.heads.get(group.workspaceId) ?? UNSEEN, plan: this.plan(group, state.recorded.get(group.workspaceId)) }));
    const calls: AppendGroup[] = [];
    for (const { group, start, plan } of plans) {
      if (plan.rows.length === 0) {
        // Every event of the group is an entry already (a redelivery): nothing to write.
        for (const [message, result] of plan.results) state.results.set(message, result);
        continue;
      }
      calls.push({
        workspaceId: group.workspaceId,
        checkHold: state.checkHolds && group.drafts.some(({ message }) => message.replayId === undefined),
        afterHash: start.head.hash,
        ids: plan.rows.map(({ entry }) => entry.id),
        rows: plan.rows,
      });
    }
    if (calls.length === 0) return [];
    const stale: Array<Group<M>> = [];
    for (const outcome of await appendEntries(db, calls)) {
      const planned = plans.find(({ group }) => group.workspaceId === outcome.workspaceId);
      if (!planned) throw new Error(`audit.append_entries answered for workspace ${outcome.workspaceId}, which was not asked`);
      const { group, plan } = planned;
      switch (outcome.status) {
        case "applied":
          if (outcome.inserted !== plan.rows.length) throw new Error(`${outcome.inserted} of ${plan.rows.length} entries of workspace ${group.workspaceId} went in`);
          for (const [message, result] of plan.results) state.results.set(message, result);
          this.heads.set(group.workspaceId, plan.head);
          break;
        case "held":
          for (const { message } of group.drafts) state.held.push(message);
          break;
        case "stale":
          this.deps.logger.debug({ workspaceId: group.workspaceId }, "the chain is not where this instance last left it, or an event is recorded already; hashing again from its head");
          this.aheadHeads.delete(group.workspaceId);
          this.heads.set(group.workspaceId, { head: outcome.head, lastStreamSeq: outcome.lastStreamSeq });
          state.recorded.set(group.workspaceId, outcome.recorded);
          stale.push(group);
          break;
      }
    }
    return stale;
  }

  /** The entries a group makes after the head kept for it, skipping recorded ids and repeats within the batch. */
  private plan<M extends AuditMessage>(group: Group<M>, recorded: ReadonlySet<string> = new Set()) {
    const start = this.heads.get(group.workspaceId) ?? UNSEEN;
    const results = new Map<M, AppendResult>();
    const rows: Array<{ entry: HashedAuditEntry; streamSeq: number }> = [];
    const seen = new Set(recorded);
    let head = start.head;
    let lastStreamSeq = start.lastStreamSeq;
    for (const { message, draft } of group.drafts) {
      if (seen.has(draft.id)) {
        results.set(message, { appended: false });
        continue;
      }
      seen.add(draft.id);
      if (lastStreamSeq !== null && lastStreamSeq > message.streamSeq) {
        this.deps.logger.warn(
          { eventId: draft.id, workspaceId: group.workspaceId, streamSeq: message.streamSeq, lastStreamSeq },
          "event appended out of stream order; a rebuild will order this chain differently",
        );
      }
      const ahead = this.hashedAhead.get(message);
      const entry = ahead && ahead.after.seq === head.seq && ahead.after.hash === head.hash ? ahead.entry : appendToChain(head, draft);
      rows.push({ entry, streamSeq: message.streamSeq });
      results.set(message, { appended: true, entry });
      head = { seq: entry.seq, hash: entry.hash };
      lastStreamSeq = message.streamSeq;
    }
    return { results, rows, head: { head, lastStreamSeq } };
  }
}
