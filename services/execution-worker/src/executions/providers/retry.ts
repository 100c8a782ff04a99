import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { outboundRefusalIn, type FetchFunction } from "@galaxy/webhooks";

/** Statuses worth another try: the provider is busy, rate-limits or failed on its side. */
const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 409, 429, 500, 502, 503, 504]);

/** The longest wait a provider may ask for; a longer one is not waited out, the failure stands. */
export const MAX_RETRY_DELAY_MS = 60_000;

// A failed answer's body is read for its retry hint; no more of it than this.
const MAX_ERROR_BODY_BYTES = 64 * 1024;

// Google's error body: `{error: {details: [{"@type": ".../google.rpc.RetryInfo", retryDelay: "2.5s"}]}}`.
const GoogleErrorBody = z.object({
  error: z.object({ details: z.array(z.looseObject({ "@type": z.string().optional(), retryDelay: z.string().optional() })).optional() }),
});
const RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo";

/**
 * A `fetch` that tries a request again, up to `maxRetries` times, when it failed before its
 * answer began: a connection error, or a status in `RETRYABLE_STATUSES`. It waits what the
 * provider asks (Gemini's `RetryInfo.retryDelay`, else `retry-after-ms` or `retry-after`),
 * else an exponential backoff with jitter like the OpenAI and Anthropic SDKs'. A hint longer
 * than `MAX_RETRY_DELAY_MS` ends the retries; the request's signal ends the wait. A body
 * already streaming is never retried: a failure past that point is the caller's to report.
 */
export function retryingFetch(fetch: FetchFunction, maxRetries: number): FetchFunction {
  return async (input, init) => {
    const signal = init?.signal ?? undefined;
    for (let attempt = 0; ; attempt += 1) {
      let response: Response;
      try {
        response = await fetch(input, init);
      } catch (error) {
        if (signal?.aborted || outboundRefusalIn(error) || attempt >= maxRetries) throw error;
        await sleep(backoffMs(attempt), undefined, { signal });
        continue;
      }
      if (response.ok || !RETRYABLE_STATUSES.has(response.status) || attempt >= maxRetries) return response;
      const body = await readCapped(response.body);
      const hinted = retryHintMs(body, response.headers);
      if (hinted !== null && hinted > MAX_RETRY_DELAY_MS) return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
      await sleep(hinted ?? backoffMs(attempt), undefined, { signal });
    }
  };
}

/** 0.5 s, 1 s, 2 s … up to 8 s, less up to a quarter at random so retries do not march in step. */
export function backoffMs(attempt: number): number {
  return Math.min(500 * 2 ** attempt, 8_000) * (1 - Math.random() * 0.25);
}

/** The wait a failed response asks for, in ms, from its body and headers; null when they say nothing usable. */
export function retryHintMs(body: string, headers: Headers): number | null {
  return retryInfoMs(body) ?? retryAfterMs((name) => headers.get(name));
}

/** The wait `retry-after-ms`, else `retry-after` (seconds or an HTTP date) asks for, in ms; null when neither says anything usable. */
export function retryAfterMs(header: (name: string) => string | null | undefined): number | null {
  const afterMs = Number(header("retry-after-ms") ?? Number.NaN);
  if (Number.isFinite(afterMs) && afterMs >= 0) return afterMs;
  const after = header("retry-after");
  if (after === null || after === undefined) return null;
  const seconds = Number(after);
  if (after.trim() !== "" && Number.isFinite(seconds) && seconds >= 0) return seconds * 1_000;
  const date = Date.parse(after);
  return Number.isNaN(date) ? null : Math.max(0, date - Date.now());
}

/** `RetryInfo.retryDelay` of a Google error body (a protobuf Duration in JSON: `"1.5s"`), in ms. */
function retryInfoMs(body: string): number | null {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return null;
  }
  const parsed = GoogleErrorBody.safeParse(json);
  if (!parsed.success) return null;
  const delay = parsed.data.error.details?.find((detail) => detail["@type"] === RETRY_INFO)?.retryDelay;
  const match = delay === undefined ? null : /^(\d+(?:\.\d+)?)s$/.exec(delay);
  return match?.[1] === undefined ? null : Math.round(Number(match[1]) * 1_000);
}

/**
 * A failed answer's body as text, no more of it than `MAX_ERROR_BODY_BYTES` (a fetch `Response`'s
 * body or Node's `IncomingMessage`); leaving early ends the stream, and with it the connection.
 */
export async function readCapped(body: AsyncIterable<Uint8Array> | null | undefined): Promise<string> {
  if (!body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.byteLength;
    if (size >= MAX_ERROR_BODY_BYTES) break;
  }
  return Buffer.concat(chunks).toString("utf8").slice(0, MAX_ERROR_BODY_BYTES);
}
