import { classifyFailure, type FailureKind } from "./classify-failure";

/** How a consumer retries (docs/bus.md, "Retry policy"). */
export interface RetryPolicy {
  /** The first wait; each failure in a row doubles it. */
  backoffMs: number;
  /** The longest wait. */
  maxBackoffMs: number;
  /** Attempts an unknown failure gets; transient failures never use it up. */
  unknownAttempts: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { backoffMs: 250, maxBackoffMs: 30_000, unknownAttempts: 5 };

export function retryPolicyOf(options: { backoffMs?: number | undefined; maxBackoffMs?: number | undefined; maxDeliveries?: number | undefined }): RetryPolicy {
  return {
    backoffMs: options.backoffMs ?? DEFAULT_RETRY_POLICY.backoffMs,
    maxBackoffMs: options.maxBackoffMs ?? DEFAULT_RETRY_POLICY.maxBackoffMs,
    unknownAttempts: Math.max(1, options.maxDeliveries ?? DEFAULT_RETRY_POLICY.unknownAttempts),
  };
}

/**
 * The wait before the next attempt after `failures` failures in a row: `backoffMs` doubling,
 * ±20 % jitter (so instances that failed together do not retry together), capped.
 */
export function backoffDelay(policy: RetryPolicy, failures: number, random: () => number = Math.random): number {
  const exponential = policy.backoffMs * 2 ** Math.min(Math.max(failures - 1, 0), 30);
  return Math.round(Math.min(policy.maxBackoffMs, exponential * (0.8 + random() * 0.4)));
}

/** What to do after a failed attempt. */
export type Verdict = { action: "retry"; kind: FailureKind; delayMs: number } | { action: "dead_letter"; kind: "terminal" | "unknown" };

/** The failures of one message so far, and what each new one means. */
export class RetryState {
  /** Failures in a row, whatever their kind: the backoff grows with them. */
  failures = 0;
  /** Transient failures in a row (reset by any other outcome): what the metric shows. */
  transientInARow = 0;
  private unknownFailures = 0;

  constructor(private readonly policy: RetryPolicy) {}

  /** Counts a failure and decides: retry after a delay, or give the message up to dead letters. */
  next(error: unknown, random?: () => number): Verdict {
    const kind = classifyFailure(error);
    this.failures += 1;
    if (kind === "terminal") return { action: "dead_letter", kind };
    if (kind === "unknown") {
      this.transientInARow = 0;
      this.unknownFailures += 1;
      if (this.unknownFailures >= this.policy.unknownAttempts) return { action: "dead_letter", kind };
    } else {
      this.transientInARow += 1;
    }
    return { action: "retry", kind, delayMs: backoffDelay(this.policy, this.failures, random) };
  }
}

/** A short, stable name for an error in logs: its code, else its name. */
export function errorCode(error: unknown): string {
  if (error instanceof Error) {
    const code = "code" in error ? error.code : undefined;
    if (typeof code === "string" || typeof code === "number") return String(code);
    return error.name;
  }
  return typeof error;
}
