import type { Logger } from "@galaxy/observability";
import type { ClaimedExecution } from "./executions.repository";

export interface SchedulerOptions {
  /** Most executions this instance runs at once. */
  concurrency: number;
  /** How long a claimed execution stays this instance's without a renewal. */
  leaseMs: number;
  /** The safety net: how often the scheduler looks for work nobody woke it for. */
  pollIntervalMs: number;
  /** Leases up to `limit` queued executions to this instance. */
  claim: (limit: number) => Promise<ClaimedExecution[]>;
  /** Runs one leased execution; `lease` aborts when the lease was lost. */
  run: (execution: ClaimedExecution, lease: AbortSignal) => Promise<void>;
  /** Extends the lease of a running execution; false when it is no longer this instance's. */
  renew: (execution: ClaimedExecution) => Promise<boolean>;
  logger: Logger;
}

interface Running {
  execution: ClaimedExecution;
  lease: AbortController;
  done: Promise<void>;
}

/**
 * Runs queued executions on this instance, up to `concurrency` at once. It claims work only
 * when woken (a local commit, another instance's `execution.queued`, a pipeline finishing
 * while work was waiting) or by the slow safety poll: nothing polls on the hot path. Leases
 * are renewed while a pipeline runs, so an instance that dies loses its executions to the
 * others within one lease.
 */
export class Scheduler {
  private readonly running = new Map<string, Running>();
  /** Set by every wake; cleared when a claim has looked at the queue since. */
  private wanted = false;
  private pumping: Promise<void> | undefined;
  private stopped = true;
  private pollTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: SchedulerOptions) {}

  /** How many executions run here now. */
  get active(): number {
    return this.running.size;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.pollTimer = setInterval(() => this.wake(), this.options.pollIntervalMs);
    this.pollTimer.unref();
    this.heartbeatTimer = setInterval(() => this.renewLeases(), Math.max(100, Math.floor(this.options.leaseMs / 3)));
    this.heartbeatTimer.unref();
    this.wake();
  }

  /** Says there may be queued work; cheap and safe to call any number of times. */
  wake(): void {
    this.wanted = true;
    if (this.stopped || this.pumping) return;
    this.pumping = this.pump().finally(() => (this.pumping = undefined));
  }

  /** Stops claiming, then waits for every running pipeline to finish (graceful shutdown). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.pollTimer);
    // Leases must keep being renewed until the last pipeline ends.
    await this.pumping;
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()].map((r) => r.done));
    clearInterval(this.heartbeatTimer);
  }

  private async pump(): Promise<void> {
    try {
      while (this.wanted && !this.stopped) {
        const free = this.options.concurrency - this.running.size;
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
    const done = this.options
      .run(execution, lease.signal)
      .catch((error: unknown) => {
        // The lease is no longer renewed, so another attempt starts once it expires.
        this.options.logger.error({ err: error, executionId: execution.id }, "execution pipeline failed; it will be retried when its lease expires");
      })
      .finally(() => {
        this.running.delete(execution.id);
        if (this.wanted) this.wake();
      });
    this.running.set(execution.id, { execution, lease, done });
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
