import { describe, expect, test } from "vitest";
import { UnavailableError, ValidationError } from "@galaxy/contracts";
import { backoffDelay, DEFAULT_RETRY_POLICY, RetryState } from "./retry-policy";

const middle = () => 0.5;

describe("backoffDelay", () => {
  test("250 ms doubling to a 30 s cap, by default", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 50].map((n) => backoffDelay(DEFAULT_RETRY_POLICY, n, middle))).toEqual([250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
  });

  test("jitter of ±20 %, never past the cap", () => {
    expect(backoffDelay(DEFAULT_RETRY_POLICY, 1, () => 0)).toBe(200);
    expect(backoffDelay(DEFAULT_RETRY_POLICY, 1, () => 0.999999)).toBe(300);
    expect(backoffDelay(DEFAULT_RETRY_POLICY, 12, () => 0.999999)).toBe(30_000);
  });
});

describe("RetryState", () => {
  const connectionRefused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });

  test("transient failures are retried without end, and counted in a row", () => {
    const state = new RetryState({ ...DEFAULT_RETRY_POLICY, unknownAttempts: 2 });
    for (let i = 0; i < 1_000; i++) expect(state.next(connectionRefused, middle).action).toBe("retry");
    expect(state.transientInARow).toBe(1_000);
  });

  test("an unknown failure gives up after its attempts; transient ones between do not count", () => {
    const state = new RetryState({ ...DEFAULT_RETRY_POLICY, unknownAttempts: 2 });
    expect(state.next(new TypeError("bug"), middle)).toMatchObject({ action: "retry", kind: "unknown" });
    expect(state.next(new UnavailableError("down"), middle)).toMatchObject({ action: "retry", kind: "transient" });
    expect(state.next(new TypeError("bug"), middle)).toEqual({ action: "dead_letter", kind: "unknown" });
  });

  test("a terminal failure is a dead letter at once", () => {
    expect(new RetryState(DEFAULT_RETRY_POLICY).next(new ValidationError("bad"))).toEqual({ action: "dead_letter", kind: "terminal" });
  });

  test("the wait grows with the failures in a row, whatever their kind", () => {
    const state = new RetryState(DEFAULT_RETRY_POLICY);
    const delays = [connectionRefused, new TypeError("bug"), connectionRefused].map((error) => {
      const verdict = state.next(error, middle);
      return verdict.action === "retry" ? verdict.delayMs : -1;
    });
    expect(delays).toEqual([250, 500, 1_000]);
  });
});
