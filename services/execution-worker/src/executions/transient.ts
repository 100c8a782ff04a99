import { setTimeout as sleep } from "node:timers/promises";

/**
 * SQLSTATE classes and codes of a database that is away for a moment, not of a statement that
 * is wrong: connection exceptions (08), operator intervention (57P01 admin shutdown, 57P02 crash
 * shutdown, 57P03 cannot connect now: a restart), serialization failures and deadlocks.
 */
const TRANSIENT_SQLSTATES = new Set(["57P01", "57P02", "57P03", "40001", "40P01", "53300"]);
/** Socket errors node-postgres passes through while the server restarts. */
const TRANSIENT_ERRNOS = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENOTFOUND", "EAI_AGAIN"]);
/** node-postgres' own words when the server went away mid-query or the client was closed under it. */
const TRANSIENT_MESSAGES = [/connection terminated/i, /terminating connection/i, /client has encountered a connection error/i, /not queryable/i, /timeout exceeded when trying to connect/i];

/**
 * Whether a database error is worth trying again as it is: the engine was unreachable or
 * restarting, not the statement at fault. A local classifier of Postgres connection errors,
 * until the bus offers one classification of failures for every engine.
 */
export function isTransientDbError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = "code" in error && typeof error.code === "string" ? error.code : undefined;
  if (code !== undefined && (code.startsWith("08") || TRANSIENT_SQLSTATES.has(code) || TRANSIENT_ERRNOS.has(code))) return true;
  if (error instanceof AggregateError && error.errors.some(isTransientDbError)) return true;
  return TRANSIENT_MESSAGES.some((pattern) => pattern.test(error.message));
}

export interface RetryOptions {
  /** How long the write is retried in all before its error is let through (default 10 s). */
  budgetMs?: number | undefined;
  /** The first pause; it doubles up to 1 s (default 50 ms). */
  firstDelayMs?: number | undefined;
  /** Told of each transient failure before the pause, for the log. */
  onRetry?: ((error: unknown, attempt: number, delayMs: number) => void) | undefined;
}

/**
 * Runs `write` and, while it fails with a transient database error, again, with capped
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
      if (!isTransientDbError(error) || wait <= 0) throw error;
      options.onRetry?.(error, attempt, wait);
      await sleep(wait);
      delayMs = Math.min(delayMs * 2, 1_000);
    }
  }
}
