import { randomUUID } from "node:crypto";
import type { Bus, MessageContext, ReadMessage, RequestContext } from "@galaxy/bus";
import {
  ConflictError, NotFoundError, ProjectionName, ReplayStatus, SYSTEM_WORKSPACE_ID, type EventActor, type ReplayListQuery,
  type ReplayRun, type ReplyData, type StartReplayBody, type WorkspaceClaim,
} from "@galaxy/contracts";
import { appendEvent, inWorkspace, type Kysely, type OutboxRelay, type Selectable, type Transaction } from "@galaxy/db";
import type { Logger } from "@galaxy/observability";
import { isSystemOperator } from "../admin/security-incidents";
import type { AuditDb, ReplayRunsTable } from "../db";
import { OperatorRequiredError } from "./errors";
import { listReplayRuns } from "./replay-list";
import { InOrderApplier, type Progress } from "./in-order-applier";
import { subjectFilter, type ReplayTarget } from "./targets";

/**
 * Messages handed to a target per call, at most: audit writes each call's entries with one
 * statement (docs/replay.md, "Rate"), so a rebuild goes in thousands of events per transaction.
 */
const APPLY_BATCH = 2_000;
/** How often progress is written (and a cancel looked for), at most. */
const PROGRESS_EVERY_MS = 250;
/** What a reset that did not complete leaves behind, in its run's `error`. */
const STAYS_HELD =
  "the workspace stays held: its live events are kept, not applied and not lost, until a replay with reset of it completes (run the reset again)";
/** A running replay whose row has not moved for this long belonged to an instance that stopped. */
const ORPHAN_AFTER_MS = 60_000;

type Row = Selectable<ReplayRunsTable>;

/**
 * Operator replays (docs/replay.md): each is a row of the system workspace, runs in the audit
 * instance that accepted it, reads `EVENTS` with an ordered consumer, and hands each message
 * to its target alone.
 */
export class ReplayService {
  private readonly running = new Map<string, Promise<void>>();
  private stopping = false;

  constructor(
    private readonly deps: {
      db: Kysely<AuditDb>;
      bus: Bus;
      relay: OutboxRelay;
      logger: Logger;
      targets: Record<ReplayRun["target"], ReplayTarget>;
    },
  ) {}

  /**
   * `audit.replays.start`: records the replay and its `replay.started`, and starts it.
   *
   * @throws {OperatorRequiredError} not an operator claim of the system workspace
   * @throws {ConflictError} `replay_in_progress`: a reset of that workspace and target is running;
   *   `audit_chain_pruned`: a reset of an audit log retention pruned (the run is recorded `failed`)
   */
  async start(claim: WorkspaceClaim, body: StartReplayBody, ctx: Pick<RequestContext, "traceparent" | "correlationId">): Promise<ReplyData<"audit.replays.start">> {
    requireOperator(claim);
    const target = this.deps.targets[body.target];
    const subject = body.subject ?? (body.workspaceId ? `evt.${body.workspaceId}.>` : "evt.>");
    const id = randomUUID();
    const actor: EventActor = { type: "operator", id: claim.sub };
    const context = await this.eventContext(ctx.traceparent, ctx.correlationId);
    const resetting = body.reset && body.workspaceId !== undefined && !body.dryRun ? body.workspaceId : null;
    if (resetting) {
      const busy = await inWorkspace(this.deps.db, SYSTEM_WORKSPACE_ID, (tx) =>
        tx
          .selectFrom("replay_runs")
          .select("id")
          .where("status", "=", "running")
          .where("reset", "=", true)
          .where("target", "=", body.target)
          .where("filter_workspace_id", "=", resetting)
          .executeTakeFirst(),
      );
      if (busy) throw new ConflictError("replay_in_progress", `replay ${busy.id} is rebuilding this workspace's ${body.target} already`);
    }
    // A reset's end is read only once the workspace is held and dropped (below): a live event
    // of it is then either in the stream up to the end (and replayed) or held back (and applied
    // after), never applied, dropped and missed in between. Other replays end where the stream
    // ends now.
    const endAtStart = resetting ? null : (body.toSeq ?? (await this.deps.bus.streamState("EVENTS")).lastSeq);
    // Recorded first: `audit.replay_reset` drops a chain only while a running reset of it holds it.
    let row = await inWorkspace(this.deps.db, SYSTEM_WORKSPACE_ID, (tx) =>
      tx
        .insertInto("replay_runs")
        .values({
          id,
          workspace_id: SYSTEM_WORKSPACE_ID,
          target: target.name,
          subject,
          filter_workspace_id: body.workspaceId ?? null,
          since: body.since ? new Date(body.since) : null,
          until: body.until ? new Date(body.until) : null,
          from_seq: body.fromSeq ?? null,
          to_seq: body.toSeq ?? null,
          end_seq: endAtStart,
          dry_run: body.dryRun,
          reset: body.reset,
          rate_per_sec: body.ratePerSec ?? null,
          status: "running",
          requested_by: claim.sub,
        })
        .returningAll()
        .executeTakeFirstOrThrow(),
    );
    const started = (endSeq: number | null) => ({
      type: "replay.started" as const,
      workspaceId: SYSTEM_WORKSPACE_ID,
      actor,
      data: { replayId: id, target: target.name, subject, workspaceId: body.workspaceId ?? null, fromSeq: body.fromSeq ?? null, endSeq, dryRun: body.dryRun, reset: body.reset },
      context,
    });
    if (resetting) {
      try {
        const dropped = await target.reset(id, resetting);
        this.deps.logger.info({ replayId: id, workspaceId: resetting, dropped }, "projection of the workspace held and dropped; rebuilding");
      } catch (failure) {
        // The target gives the hold back when it cannot drop (nothing changed); the run records why.
        const error = `the workspace could not be held and dropped: ${failure instanceof Error ? failure.message : String(failure)}`;
        const failed = await inWorkspace(this.deps.db, SYSTEM_WORKSPACE_ID, async (tx) => {
          await tx.updateTable("replay_runs").set({ status: "failed", error, finished_at: new Date(), updated_at: new Date() }).where("id", "=", id).execute();
          return [
            await appendEvent(tx, started(null)),
            await appendEvent(tx, {
              type: "replay.completed",
              workspaceId: SYSTEM_WORKSPACE_ID,
              actor,
              data: { replayId: id, target: target.name, status: "failed", matched: 0, applied: 0, skipped: 0, failed: 0, error },
              context,
            }),
          ];
        });
        this.deps.relay.publishNow(failed);
        throw failure;
      }
    }
    const { fixed, events } = await inWorkspace(this.deps.db, SYSTEM_WORKSPACE_ID, async (tx) => {
      let current = row;
      if (resetting) {
        const endSeq = (await this.deps.bus.streamState("EVENTS")).lastSeq;
        current = await tx.updateTable("replay_runs").set({ end_seq: endSeq, updated_at: new Date() }).where("id", "=", id).returningAll().executeTakeFirstOrThrow();
      }
      return { fixed: current, events: [await appendEvent(tx, started(current.end_seq))] };
    });
    row = fixed;
    this.deps.relay.publishNow(events);
    const work = this.run(row, target, actor, ctx)
      .catch((error: unknown) => this.deps.logger.error({ err: error, replayId: id }, "replay crashed"))
      .finally(() => this.running.delete(id));
    this.running.set(id, work);
    return { id, status: "running" };
  }

  /** `audit.replays.get`. @throws {NotFoundError} `replay_not_found` */
  async get(claim: WorkspaceClaim, id: string): Promise<ReplayRun> {
    requireOperator(claim);
    const row = await inWorkspace(this.deps.db, SYSTEM_WORKSPACE_ID, (tx) => tx.selectFrom("replay_runs").selectAll().where("id", "=", id).executeTakeFirst());
    if (!row) throw new NotFoundError("replay", id);
    return toReplayRun(row);
  }

  /** `audit.replays.list`: newest first, by cursor or offset. */
  async list(claim: WorkspaceClaim, query: ReplayListQuery): Promise<ReplyData<"audit.replays.list">> {
    requireOperator(claim);
    const page = await inWorkspace(this.deps.db, SYSTEM_WORKSPACE_ID, (tx) => listReplayRuns(tx, query));
    return { items: page.rows.map(toReplayRun), pagination: page.pagination };
  }

  /**
   * `audit.replays.cancel`: the replay stops at its next progress mark (within moments). A
   * cancelled reset keeps its workspace held (its live events wait, none is lost) until a
   * replay with reset of it completes. A finished replay is answered as it is.
   */
  async cancel(claim: WorkspaceClaim, id: string): Promise<ReplayRun> {
    requireOperator(claim);
    const row = await inWorkspace(this.deps.db, SYSTEM_WORKSPACE_ID, (tx) =>
      tx.updateTable("replay_runs").set({ cancel_requested: true }).where("id", "=", id).returningAll().executeTakeFirst(),
    );
    if (!row) throw new NotFoundError("replay", id);
    return toReplayRun(row);
  }

  /** Waits for the replays this instance runs to finish (tests). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.running.values()]);
  }

  /** Stops the replays this instance runs at their next progress mark (they end `failed`, to be started again). */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.settle();
  }

  /** Marks replays whose instance stopped mid-way as failed (their reset holds stay for an operator to re-run). */
  async failOrphans(): Promise<number> {
    return inWorkspace(this.deps.db, SYSTEM_WORKSPACE_ID, async (tx) => {
      const rows = await tx
        .updateTable("replay_runs")
        .set({ status: "failed", error: "the audit instance running it stopped; start the replay again", finished_at: new Date() })
        .where("status", "=", "running")
        .where("updated_at", "<", new Date(Date.now() - ORPHAN_AFTER_MS))
        .returning("id")
        .execute();
      return rows.length;
    });
  }

  private async run(row: Row, target: ReplayTarget, actor: EventActor, ctx: Pick<RequestContext, "traceparent" | "correlationId">): Promise<void> {
    const logger = this.deps.logger.child({ replayId: row.id, target: row.target });
    const progress: Progress = { matched: 0, applied: 0, skipped: 0, failed: 0, lastSeq: null, remaining: null };
    let status: ReplayStatus = "completed";
    let error: string | null = null;
    // A reset held and dropped the workspace when the replay started.
    const held = row.reset && row.filter_workspace_id !== null && !row.dry_run;
    try {
      status = await this.read(row, target, progress, logger);
    } catch (failure) {
      status = "failed";
      error = failure instanceof Error ? failure.message : String(failure);
      logger.error({ err: failure }, "replay failed");
    }
    if (held && row.filter_workspace_id) {
      if (status === "completed") {
        try {
          const released = await target.release(row.id, row.filter_workspace_id);
          logger.info({ released }, "live events that waited are applied");
        } catch (failure) {
          status = "failed";
          error = `the rebuild ended but the live events that waited could not be applied (${failure instanceof Error ? failure.message : String(failure)}); ${STAYS_HELD}`;
          logger.error({ err: failure }, "release failed");
        }
      } else {
        // Only part of the workspace is rebuilt: live events applied on top of it would make a
        // chain that verifies but misses entries. They keep waiting for a reset that completes.
        error = `${error ?? "cancelled by an operator before the rebuild finished"}; ${STAYS_HELD}`;
        logger.warn({ status }, "the rebuild did not finish; the workspace stays held");
      }
    }
    const context = await this.eventContext(ctx.traceparent, ctx.correlationId);
    const events = await inWorkspace(this.deps.db, SYSTEM_WORKSPACE_ID, async (tx) => {
      await saveProgress(tx, row.id, progress, { status, error, finished_at: new Date() });
      return [
        await appendEvent(tx, {
          type: "replay.completed",
          workspaceId: SYSTEM_WORKSPACE_ID,
          actor,
          data: { replayId: row.id, target: target.name, status, matched: progress.matched, applied: progress.applied, skipped: progress.skipped, failed: progress.failed, error },
          context,
        }),
      ];
    });
    this.deps.relay.publishNow(events);
    logger.info({ status, ...progress }, "replay finished");
  }

  /** Reads the stream from the start point to the end bound, handing batches to the target. */
  private async read(row: Row, target: ReplayTarget, progress: Progress, logger: Logger): Promise<ReplayStatus> {
    const endSeq = row.end_seq ?? 0;
    const fromSeq = row.from_seq ?? undefined;
    if (endSeq === 0 || (fromSeq !== undefined && fromSeq > endSeq)) return "completed";
    const reader = await this.deps.bus.orderedReader("EVENTS", { filter: row.subject, fromSeq, since: row.since?.toISOString() });
    const info = await reader.info();
    if (info.num_pending === 0) return "completed";
    const started = Date.now();
    let lastSave = 0;
    const applier = new InOrderApplier(target, row.id, progress, logger);
    let batch: ReadMessage[] = [];
    const flush = async () => {
      const messages = batch;
      batch = [];
      await applier.hand(messages);
    };
    const drain = async () => {
      await flush();
      await applier.settled();
    };
    const inTargetFilter = subjectFilter(target.filter);
    const messages = await reader.consume({ max_messages: APPLY_BATCH * 2 });
    try {
      for await (const msg of messages) {
        if (msg.seq > endSeq) break;
        if (row.until && msg.time >= row.until) break;
        progress.matched++;
        progress.lastSeq = msg.seq;
        progress.remaining = msg.info.pending;
        const subject = this.deps.bus.unprefixed(msg.subject);
        if (row.dry_run || !inTargetFilter(subject)) progress.skipped++;
        else batch.push(msg);
        const last = msg.info.pending === 0 || msg.seq >= endSeq;
        if (batch.length >= APPLY_BATCH || last) await flush();
        if (row.rate_per_sec) {
          // Never ahead of the rate: message n waits until n / rate seconds after the start.
          const due = started + (progress.matched / row.rate_per_sec) * 1000;
          if (due > Date.now()) {
            await drain();
            await sleep(due - Date.now());
          }
        }
        if (Date.now() - lastSave >= PROGRESS_EVERY_MS) {
          // A mark waits for nothing in flight: the batch being applied goes on while the
          // progress is written, and the batch being read stays whole (a mark that drained
          // left the target idle while the next batch was read, four times a second).
          lastSave = Date.now();
          const cancelled = await inWorkspace(this.deps.db, SYSTEM_WORKSPACE_ID, (tx) => saveProgress(tx, row.id, progress));
          if (cancelled) {
            await drain();
            return "cancelled";
          }
          if (this.stopping) throw new Error("audit stopped while the replay ran; start it again");
        }
        if (last) break;
      }
      await drain();
    } finally {
      // Nothing left running behind a failure either.
      await applier.settled().catch(() => undefined);
      await messages.close().catch(() => undefined);
    }
    return "completed";
  }

  /** The context of a system-workspace event audit writes: its service claim, the request's trace. */
  private async eventContext(traceparent: string | undefined, correlationId: string): Promise<MessageContext> {
    return { claim: await this.deps.bus.serviceClaims.get(SYSTEM_WORKSPACE_ID), traceparent, correlationId, causationId: correlationId };
  }
}

/** Writes progress; answers whether an operator asked to cancel. */
async function saveProgress(tx: Transaction<AuditDb>, id: string, p: Progress, end: { status: ReplayStatus; error: string | null; finished_at: Date } | null = null): Promise<boolean> {
  const row = await tx
    .updateTable("replay_runs")
    .set({ matched: p.matched, applied: p.applied, skipped: p.skipped, failed: p.failed, last_seq: p.lastSeq, remaining: p.remaining, updated_at: new Date(), ...(end ?? {}) })
    .where("id", "=", id)
    .returning("cancel_requested")
    .executeTakeFirst();
  return row?.cancel_requested === true;
}

function toReplayRun(row: Row): ReplayRun {
  const end = row.finished_at ?? new Date();
  const seconds = Math.max(0.001, (end.getTime() - row.started_at.getTime()) / 1000);
  const rate = row.matched / seconds;
  const etaSeconds = row.status !== "running" ? 0 : row.remaining === null || rate === 0 ? null : Math.ceil(row.remaining / rate);
  return {
    id: row.id,
    status: ReplayStatus.parse(row.status),
    target: ProjectionName.parse(row.target),
    subject: row.subject,
    workspaceId: row.filter_workspace_id,
    since: row.since?.toISOString() ?? null,
    until: row.until?.toISOString() ?? null,
    fromSeq: row.from_seq,
    toSeq: row.to_seq,
    endSeq: row.end_seq,
    dryRun: row.dry_run,
    reset: row.reset,
    ratePerSec: row.rate_per_sec,
    matched: row.matched,
    applied: row.applied,
    skipped: row.skipped,
    failed: row.failed,
    rate: Math.round(rate * 10) / 10,
    etaSeconds,
    lastSeq: row.last_seq,
    error: row.error,
    requestedBy: row.requested_by,
    createdAt: row.created_at.toISOString(),
    startedAt: row.started_at.toISOString(),
    finishedAt: row.finished_at?.toISOString() ?? null,
  };
}

function requireOperator(claim: WorkspaceClaim): void {
  if (!isSystemOperator(claim)) throw new OperatorRequiredError();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
