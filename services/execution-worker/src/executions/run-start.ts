import { inWorkspaceAtOnce, sql, type Kysely, type OutboxRelay, type OutboxRow } from "@galaxy/db";
import type { Logger } from "@galaxy/observability";
import type { ExecutionDb } from "../db";
import { writeRun, type StepRecord } from "./run-store";
import { retryTransient, type RetryOptions } from "./transient";

/** How long a claimed run's start waits in memory before it is written on its own (`EXECUTION_START_WRITE_DELAY_MS`). */
export const DEFAULT_START_WRITE_DELAY_MS = 1_000;
/** The least time before a start whose write failed is tried again (its retries of a blip are over by then). */
const AGAIN_AFTER_FAILURE_MS = 1_000;

/** What an attempt's start writes: `started_at` and `execution.started` the first time, its first step `running`. */
export interface AttemptStart {
  startedAt: Date;
  /** `execution.started`, or nothing when an earlier attempt recorded it. */
  events: OutboxRow[];
  firstStep: StepRecord;
  /** Steps an earlier attempt left `running` (its instance died) are closed `abandoned`. */
  abandonRunning: boolean;
}

export interface PendingStartDeps {
  db: Kysely<ExecutionDb>;
  relay: OutboxRelay;
  logger: Logger;
  /** This instance's lease owner name. */
  owner: string;
}

/**
 * A claimed run's start, kept in memory for a moment (docs/decisions/0030-a-short-run-writes-its-start-with-its-end.md):
 * a run that ends within it writes its start with its end, in the end's one statement; a run
 * that lasts longer writes its start when the moment is over, on its own, while the
 * conversation goes on. Either way the events keep their order: the end waits for a start
 * being written. A start write that failed may have committed all the same (its answer lost):
 * before its event is written again, the store is asked whether it holds it.
 */
export class PendingStart {
  private state: "waiting" | "writing" | "written" | "taken" = "waiting";
  private writing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  /** A write of the start failed: it may have committed. */
  private uncertain = false;

  constructor(
    private readonly deps: PendingStartDeps,
    private readonly run: { executionId: string; workspaceId: string },
    private readonly start: AttemptStart,
    private readonly delayMs: number,
    private readonly retry: RetryOptions,
  ) {
    this.timer = setTimeout(() => void this.writeNow(), delayMs);
  }

  /**
   * Writes the start now, unless it was written or taken already. A failure (past the retries
   * of a blip) is logged, and the write is tried again after the delay (a second at least);
   * the end carries the start if it comes first.
   */
  writeNow(): Promise<void> {
    clearTimeout(this.timer);
    if (this.state !== "waiting") return this.writing;
    this.state = "writing";
    const { db, relay, logger, owner } = this.deps;
    const { startedAt, firstStep, abandonRunning } = this.start;
    const write = async (): Promise<OutboxRow[] | null> => {
      const events = await this.eventsToWrite();
      try {
        return await writeRun(db, this.run.workspaceId, { executionId: this.run.executionId, owner, change: { kind: "start", startedAt }, events, steps: [firstStep], abandonRunning });
      } catch (error) {
        this.uncertain = true;
        throw error;
      }
    };
    this.writing = retryTransient(write, this.retry).then(
      (written) => {
        // Null: the lease is no longer ours. The run's end finds that too, and drops its result.
        if (written) relay.publishNow(written);
        this.state = "written";
      },
      (error: unknown) => {
        logger.error({ err: error, executionId: this.run.executionId, workspaceId: this.run.workspaceId }, "the run's start could not be written on its own; trying again later, unless its end carries it");
        this.state = "waiting";
        this.timer = setTimeout(() => void this.writeNow(), Math.max(this.delayMs, AGAIN_AFTER_FAILURE_MS));
      },
    );
    return this.writing;
  }

  /**
   * For the run's last write (its end or its hand-back to the queue): the start when it is still
   * to be written, which that write then carries, or null once it is written (after waiting for
   * a write in progress).
   */
  async take(): Promise<AttemptStart | null> {
    clearTimeout(this.timer);
    await this.writing;
    if (this.state === "written" || this.state === "taken") return null;
    this.state = "taken";
    return { ...this.start, events: await retryTransient(() => this.eventsToWrite(), this.retry) };
  }

  /** The run stops without a last write of its own (its lease was lost): the start is never written. */
  drop(): void {
    clearTimeout(this.timer);
    if (this.state === "waiting") this.state = "taken";
  }

  /** The start's events, or none when a write whose answer was lost recorded them already (the outbox sweep publishes them). */
  private async eventsToWrite(): Promise<OutboxRow[]> {
    const [started] = this.start.events;
    if (!this.uncertain || !started) return this.start.events;
    const [row] = await inWorkspaceAtOnce(
      this.deps.db,
      this.run.workspaceId,
      sql<{ recorded: boolean }>`select exists (select 1 from execution_events where execution_id = ${this.run.executionId} and event_id = ${started.id}) as recorded`.compile(this.deps.db),
    );
    return row?.recorded ? [] : this.start.events;
  }
}
