import { setTimeout as sleep } from "node:timers/promises";

export interface RetryOptions {
  /** The waits between attempts: one more attempt than there are delays. */
  delaysMs: readonly number[];
  /** Whether a failure may go away by itself (an infrastructure error). */
  isRetryable: (error: unknown) => boolean;
  /** Called before each wait, e.g. to tell JetStream the message is still being worked on. */
  onRetry?: (error: unknown, attempt: number) => void;
  /** When true, the next failure is thrown at once instead of waited out. */
  stopped?: () => boolean;
}

/**
 * Runs `fn` until it succeeds, fails with an error that is not retryable, or has used
 * every attempt; then throws its last error.
 *
 * The audit consumer retries here rather than through the bus: a nak lets the messages
 * behind the failed one be applied first, which would put the chain out of stream order.
 */
export async function retrying<T>(fn: () => Promise<T>, options: RetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      const delay = options.delaysMs[attempt - 1];
      if (delay === undefined || !options.isRetryable(error) || options.stopped?.()) throw error;
      options.onRetry?.(error, attempt);
      await sleep(delay);
    }
  }
}
