import { describe, expect, test } from "vitest";
import { retrying } from "./retry";

class Permanent extends Error {}

function failing(times: number, error: () => Error = () => new Error("connection reset")) {
  let calls = 0;
  return {
    fn: async () => {
      calls++;
      if (calls <= times) throw error();
      return calls;
    },
    calls: () => calls,
  };
}

const isRetryable = (error: unknown) => !(error instanceof Permanent);

describe("retrying", () => {
  test("retries a passing failure until it succeeds, telling each retry", async () => {
    const op = failing(2);
    const retries: number[] = [];
    await expect(retrying(op.fn, { delaysMs: [1, 1, 1], isRetryable, onRetry: (_e, attempt) => retries.push(attempt) })).resolves.toBe(3);
    expect(retries).toEqual([1, 2]);
  });

  test("throws the last error once every attempt is used", async () => {
    const op = failing(5);
    await expect(retrying(op.fn, { delaysMs: [1, 1], isRetryable })).rejects.toThrow("connection reset");
    expect(op.calls()).toBe(3);
  });

  test("throws an error that is not retryable at once", async () => {
    const op = failing(1, () => new Permanent("bad event"));
    await expect(retrying(op.fn, { delaysMs: [1, 1], isRetryable })).rejects.toBeInstanceOf(Permanent);
    expect(op.calls()).toBe(1);
  });

  test("stops waiting once stopped", async () => {
    const op = failing(5);
    await expect(retrying(op.fn, { delaysMs: [1, 1, 1], isRetryable, stopped: () => true })).rejects.toThrow("connection reset");
    expect(op.calls()).toBe(1);
  });
});
