import type { ReadMessage } from "@galaxy/bus";
import type { Logger } from "@galaxy/observability";
import type { ReplayApplyResult } from "@galaxy/contracts";
import { PartlyAppliedError, type ReplayTarget } from "./targets";

/** A replay's counts, written to its run as it goes. */
export interface Progress {
  matched: number;
  applied: number;
  skipped: number;
  failed: number;
  lastSeq: number | null;
  remaining: number | null;
}

/**
 * Hands a replay's batches to its target one call at a time, in stream order, with one call in
 * flight while the replay reads the next batch and the target starts on it (checks its
 * messages): the target writes while the replay reads. A failed call fails the next
 * {@link hand} or {@link settled}.
 */
export class InOrderApplier {
  private inFlight: Promise<void> = Promise.resolve();
  private failure: { error: unknown } | null = null;

  constructor(
    private readonly target: ReplayTarget,
    private readonly replayId: string,
    private readonly progress: Progress,
    private readonly logger: Logger,
  ) {}

  /** Prepares `messages` now, and starts applying them once the call before has ended. */
  async hand(messages: ReadMessage[]): Promise<void> {
    if (messages.length === 0) return;
    // A call failed already: this batch would never be applied, so it is not prepared either.
    if (this.failure) throw this.failure.error;
    const batch = this.target.prepare(this.replayId, messages);
    await this.settled();
    this.inFlight = batch.apply().then(
      (result) => this.count(result),
      (error: unknown) => {
        // What went in before the failure is counted; the failure is kept, not left
        // unhandled: the replay's next step throws it.
        if (error instanceof PartlyAppliedError) this.count(error.result);
        this.failure = { error: error instanceof PartlyAppliedError ? error.cause : error };
      },
    );
  }

  private count(result: ReplayApplyResult): void {
    this.progress.applied += result.applied;
    this.progress.failed += result.failed.length;
    for (const f of result.failed) this.logger.warn({ seq: f.seq, error: f.error }, "the target refused a replayed message; it is a dead letter of its consumer");
  }

  /** Resolves once every batch handed over is applied; throws what a call failed with. */
  async settled(): Promise<void> {
    await this.inFlight;
    if (this.failure) throw this.failure.error;
  }
}
