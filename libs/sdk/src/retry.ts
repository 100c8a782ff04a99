import { isErrorBody, retryAfterSeconds } from "./errors.js";

/** How the client retries an answer that asks to be retried (429, 503). */
export interface RetryPolicy {
  /** Retries after the first attempt (default 3; 0 turns retries off). */
  maxRetries: number;
  /** The longest wait between attempts; an answer asking for longer is returned as it is (default 30 s). */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 3, maxDelayMs: 30_000 };

const MUTATIONS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * Mutations that a retry could apply twice: they keep no idempotency record (an account, an API
 * key whose secret is shown once). Everything else is a read, carries an `Idempotency-Key`, or
 * is a signed delivery, whose `webhook-id` makes a repeat the same delivery.
 */
const NOT_REPLAYABLE: ReadonlyArray<[string, RegExp]> = [
  ["POST", /\/api\/auth\/signup$/],
  ["POST", /\/api\/api-keys$/],
];

function replayable(request: Request): boolean {
  const path = new URL(request.url).pathname;
  if (NOT_REPLAYABLE.some(([method, pattern]) => method === request.method && pattern.test(path))) return false;
  return !MUTATIONS.has(request.method) || request.headers.has("idempotency-key") || request.headers.has("webhook-id");
}

function sleep(ms: number, signal: AbortSignal | null): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}

/**
 * Whether an answer asks to be sent again: a 429, or a 503 with `Retry-After` or of someone
 * other than Galaxy (a proxy's, with no error `code`). Galaxy sends a 503 without `Retry-After`
 * only when retrying cannot cure it (a configuration to fix: docs/errors.md).
 */
async function asksForRetry(response: Response): Promise<boolean> {
  if (response.status === 429) return true;
  if (response.status !== 503) return false;
  if (retryAfterSeconds(response.headers) !== undefined) return true;
  let body: unknown = null;
  try {
    body = await response.clone().json();
  } catch {
    // Not JSON, or a body already read: not an answer of Galaxy's.
  }
  return !isErrorBody(body);
}

/**
 * Sends `request`, and again (the same request, so the same `Idempotency-Key`) while the
 * answer asks for it (429, 503: `asksForRetry`), waiting what `Retry-After` asks (or 0.5 s,
 * 1 s, 2 s … without one), at most `maxRetries` times and never longer than `maxDelayMs` at once.
 */
export async function fetchWithRetries(request: Request, policy: RetryPolicy, fetchImpl: (request: Request) => Promise<Response>): Promise<Response> {
  const canRetry = replayable(request);
  for (let attempt = 0; ; attempt++) {
    const last = !canRetry || attempt >= policy.maxRetries;
    const response = await fetchImpl(last ? request : request.clone());
    if (last || !(await asksForRetry(response))) return response;
    const delayMs = (retryAfterSeconds(response.headers) ?? 0.5 * 2 ** attempt) * 1000;
    if (delayMs > policy.maxDelayMs) return response;
    await response.body?.cancel();
    await sleep(delayMs, request.signal);
  }
}
