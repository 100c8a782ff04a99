import { setMaxListeners } from "node:events";
import type { Logger } from "@galaxy/observability";
import type { ClaimedExecution } from "./executions.repository";
import type { Reservation } from "./intake";

/**
 * How a run ended, as far as the scheduler cares:
 * - `finished`: the pipeline went through (recorded a result, or found it had lost the lease);
 * - `handed_back`: the instance is stopping, and the execution went back to the queue;
 * - `unavailable`: a dependency (identity's service claim) did not answer, and the execution
 *   went back to the queue without counting an attempt. The scheduler backs off.
 */
export type RunOutcome = "finished" | "handed_back" | "unavailable";

/** What a running pipeline is told through. */
export interface RunSignals {
  /** Aborts when this instance lost the lease: record nothing. */
  lease: AbortSignal;
  /** Aborts when the shutdown grace period is over: stop and hand the execution back. */
  stop: AbortSignal;
  /** Aborts when `execution.cancel` asked this execution to stop: end it `cancelled`. */
  cancel: AbortSignal;
}

export interface SchedulerOptions {
  /** Most executions this instance runs at once. */
  concurrency: number;
  /** How long a claimed execution stays this instance's without a renewal. */
  leaseMs: number;
  /** The safety net: how often the scheduler looks for work nobody woke it for. */
  pollIntervalMs: number;
  /** How long `stop()` lets running executions finish before it tells them to hand back. */
  shutdownGraceMs: number;
  /** The first pause after a run found a dependency unavailable; doubles up to `maxBackoffMs`. */
  backoffMs: number;
  maxBackoffMs: number;
  /** Leases up to `limit` queued executions to this instance. */
  claim: (limit: number) => Promise<ClaimedExecution[]>;
  /** Runs one leased execution. */
  run: (execution: ClaimedExecution, signals: RunSignals) => Promise<RunOutcome>;
  /** Extends the lease of a running execution; false when it is no longer this instance's. */
  renew: (execution: ClaimedExecution) => Promise<boolean>;
  logger: Logger;
}

interface Running {
  execution: ClaimedExecution;
  lease: AbortController;
  cancel: AbortController;
  done: Promise<void>;
}

/**
 * Runs queued executions on this instance, up to `concurrency` at once. It claims work only
 * when woken (a local commit, another instance's `execution.queued` or hand-back, a pipeline
 * finishing while work was waiting) or by the slow safety poll: nothing polls on the hot
 * path. Leases are renewed while a pipeline runs, so an instance that dies loses its
 * executions to the others within one lease. When a run finds identity unavailable, the
 * scheduler pauses claiming (exponential backoff) instead of churning through the queue.
 */
export class Scheduler {
  private readonly running = new Map<string, Running>();
  /** Places kept for executions an intake is taking at once (see `reserve`). */
  private reserved = 0;
  /** Aborted when `stop()`'s grace period is over. */
  private readonly stopping = new AbortController();
  /** Set by every wake; cleared when a claim has looked at the queue since. */
  private wanted = false;
  private pumping: Promise<void> | undefined;
  private stopped = true;
  private pollTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  /** The current backoff (0: none) and until when claiming pauses. */
  private backoffMs = 0;
  private pausedUntil = 0;
  private resumeTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: SchedulerOptions) {
    // Every run in progress listens to it (linked-abort.ts): more than Node's ten is no leak.
    setMaxListeners(0, this.stopping.signal);
  }

  /** How many executions run here now. */
  get active(): number {
    return this.running.size;
  }

  /** True while claiming pauses because a dependency was unavailable. */
  get backingOff(): boolean {
    return Date.now() < this.pausedUntil;
  }

  start(): void {
    if (!this.stopped || this.stopping.signal.aborted) return;
    this.stopped = false;
    this.pollTimer = setInterval(() => this.wake(), this.options.pollIntervalMs);
    this.pollTimer.unref();
    this.heartbeatTimer = setInterval(() => this.renewLeases(), Math.max(100, Math.floor(this.options.leaseMs / 3)));
    this.heartbeatTimer.unref();
    this.wake();
  }

  /** Whether this instance runs the execution now. */
  isRunning(executionId: string): boolean {
    return this.running.has(executionId);
  }

  /**
   * Tells the pipeline running this execution here, if any, to stop and end it `cancelled`.
   * True when it runs here. A cancel that comes before the pipeline starts is read from the
   * execution's record instead (`cancel_requested_at`).
   */
  cancel(executionId: string): boolean {
    const running = this.running.get(executionId);
    if (!running) return false;
    running.cancel.abort(new Error("the execution was cancelled"));
    return true;
  }

  /**
   * Keeps a place for an execution the intake is about to take in its own transaction; null
   * when this instance runs all it may, or is stopping. The place is freed by `release`, or
   * taken by `launch` once the execution is leased here.
   */
  reserve(): Reservation | null {
    if (this.stopped || this.backingOff || this.running.size + this.reserved >= this.options.concurrency) return null;
    this.reserved += 1;
    let settled = false;
    const settle = () => {
      if (settled) throw new Error("a reservation is launched or released once");
      settled = true;
      this.reserved -= 1;
    };
    return {
      launch: (execution) => {
        settle();
        this.launch(execution);
      },
      release: () => {
        if (!settled) settle();
      },
    };
  }

  /** Says there may be queued work; cheap and safe to call any number of times. */
  wake(): void {
    this.wanted = true;
    if (this.stopped || this.pumping) return;
    this.pumping = this.pump().finally(() => (this.pumping = undefined));
  }

  /**
   * Graceful and bounded: stops claiming, lets running pipelines finish for up to
   * `shutdownGraceMs`, then tells the rest to stop; they abort their model calls and hand
   * their executions back to the queue. Resolves once every pipeline has ended. Leases are
   * renewed until then.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.pollTimer);
    clearTimeout(this.resumeTimer);
    await this.pumping;
    if (this.running.size > 0 && !(await this.settled(this.options.shutdownGraceMs))) {
      this.options.logger.warn({ executions: [...this.running.keys()], graceMs: this.options.shutdownGraceMs }, "shutdown grace period over; handing running executions back");
      this.stopping.abort(new Error("the worker is stopping"));
      await this.settled(Infinity);
    }
    clearInterval(this.heartbeatTimer);
  }

  /** Waits up to `ms` for every running pipeline to end; true when they all did. */
  private async settled(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = Number.isFinite(ms) ? new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms))) : new Promise<false>(() => {});
    const all = (async () => {
      while (this.running.size > 0) await Promise.allSettled([...this.running.values()].map((r) => r.done));
      return true as const;
    })();
    try {
      return await Promise.race([all, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async pump(): Promise<void> {
    try {
      while (this.wanted && !this.stopped) {
        // Backing off: `wanted` stays set and the resume timer wakes us.
        if (this.backingOff) return;
        const free = this.options.concurrency - this.running.size - this.reserved;
        // Full: `wanted` stays set, and the next pipeline to finish claims again.
        if (free <= 0) return;
        this.wanted = false;
        const claimed = await this.options.claim(free);
        // Claimed rows are leased to us: run them even if stop() came meanwhile.
        for (const execution of claimed) this.launch(execution);
        if (claimed.length === free) this.wanted = true;
      }
    } catch (error) {
      // The safety poll tries again; a wake in between does too.
      this.options.logger.warn({ err: error }, "claiming queued executions failed");
    }
  }

  private launch(execution: ClaimedExecution): void {
    const lease = new AbortController();
    const cancel = new AbortController();
    const done = this.options
      .run(execution, { lease: lease.signal, stop: this.stopping.signal, cancel: cancel.signal })
      .then(
        (outcome) => {
          if (outcome === "unavailable") this.backOff();
          else if (outcome === "finished") this.backoffMs = 0;
        },
        (error: unknown) => {
          // The lease is no longer renewed, so another attempt starts once it expires.
          this.options.logger.error({ err: error, executionId: execution.id }, "execution pipeline failed; it will be retried when its lease expires");
        },
      )
      .finally(() => {
        this.running.delete(execution.id);
        // A place is free here, and in this execution's workspace (its concurrency may be
        // what held queued work back at the last claim): look at the queue again. Unless the
        // intake took this one at once (nothing of its workspace waited) and nothing was
        // queued since: then the queue has nothing this place could take.
        if (!execution.begun || this.wanted) this.wake();
      });
    this.running.set(execution.id, { execution, lease, cancel, done });
  }

  /**
   * Pauses claiming: the execution just handed back (and everything queued) waits until a
   * dependency answers again. Runs that fail together during one pause count once.
   */
  private backOff(): void {
    this.wanted = true;
    if (this.backingOff || this.stopped) return;
    this.backoffMs = this.backoffMs === 0 ? this.options.backoffMs : Math.min(this.backoffMs * 2, this.options.maxBackoffMs);
    this.pausedUntil = Date.now() + this.backoffMs;
    this.options.logger.warn({ backoffMs: this.backoffMs }, "a dependency is unavailable; pausing claims");
    clearTimeout(this.resumeTimer);
    this.resumeTimer = setTimeout(() => {
      this.pausedUntil = 0;
      this.wake();
    }, this.backoffMs);
    this.resumeTimer.unref();
  }

  private renewLeases(): void {
    for (const { execution, lease } of this.running.values()) {
      this.options
        .renew(execution)
        .then((held) => {
          if (!held) lease.abort(new Error(`lease on ${execution.id} lost`));
        })
        .catch((error: unknown) => this.options.logger.warn({ err: error, executionId: execution.id }, "lease renewal failed"));
    }
  }
}
