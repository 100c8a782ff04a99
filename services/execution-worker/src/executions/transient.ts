import { setTimeout as sleep } from "node:timers/promises";
import { isTransient } from "@galaxy/bus";

export interface RetryOptions {
  /** How long the write is retried in all before its error is let through (default 10 s). */
  budgetMs?: number | undefined;
  /** The first pause; it doubles up to 1 s (default 50 ms). */
  firstDelayMs?: number | undefined;
  /** Told of each transient failure before the pause, for the log. */
  onRetry?: ((error: unknown, attempt: number, delayMs: number) => void) | undefined;
}

/**
 * Runs `write` and, while it fails with a transient error (the bus's one classification of
 * failures, docs/bus.md), again, with capped
 * backoff, for at most `budgetMs`: a Postgres restart of a second neither fails the step nor
 * makes the run do its work twice. `write` must be safe to run again after an error, which a
 * transaction is: it either committed (then its own conditions make the retry change nothing)
 * or it did not.
 */
export async function retryTransient<T>(write: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const deadline = Date.now() + (options.budgetMs ?? 10_000);
  let delayMs = options.firstDelayMs ?? 50;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await write();
    } catch (error) {
      const wait = Math.min(delayMs, deadline - Date.now());
      if (!isTransient(error) || wait <= 0) throw error;
      options.onRetry?.(error, attempt, wait);
      await sleep(wait);
      delayMs = Math.min(delayMs * 2, 1_000);
    }
  }
}
