import { describe, expect, test } from "vitest";
import { backoffMs, retryHintMs } from "./retry";

const retryInfo = (retryDelay: string) => JSON.stringify({ error: { code: 429, details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay }] } });

describe("a failed answer's retry hint", () => {
  test("Gemini's RetryInfo.retryDelay comes first, in seconds with a fraction", () => {
    expect(retryHintMs(retryInfo("2s"), new Headers({ "retry-after": "9" }))).toBe(2_000);
    expect(retryHintMs(retryInfo("1.5s"), new Headers())).toBe(1_500);
    expect(retryHintMs(retryInfo("0s"), new Headers())).toBe(0);
  });

  test("then retry-after-ms, then retry-after in seconds or as a date", () => {
    expect(retryHintMs("", new Headers({ "retry-after-ms": "250", "retry-after": "9" }))).toBe(250);
    expect(retryHintMs("{}", new Headers({ "retry-after": "3" }))).toBe(3_000);
    const inTenSeconds = new Date(Date.now() + 10_000).toUTCString();
    expect(retryHintMs("", new Headers({ "retry-after": inTenSeconds }))).toBeGreaterThan(8_000);
  });

  test("none, or one that is not a duration, says nothing", () => {
    expect(retryHintMs("not json", new Headers())).toBeNull();
    expect(retryHintMs(retryInfo("soon"), new Headers())).toBeNull();
    expect(retryHintMs(JSON.stringify({ error: { details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "RATE_LIMIT" }] } }), new Headers())).toBeNull();
    expect(retryHintMs("", new Headers({ "retry-after": "whenever" }))).toBeNull();
  });
});

describe("the backoff without a hint", () => {
  test("doubles from half a second up to eight, less a quarter at most", () => {
    for (const [attempt, full] of [[0, 500], [1, 1_000], [2, 2_000], [5, 8_000], [9, 8_000]] as const) {
      const wait = backoffMs(attempt);
      expect(wait).toBeLessThanOrEqual(full);
      expect(wait).toBeGreaterThanOrEqual(full * 0.75);
    }
  });
});
