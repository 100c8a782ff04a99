import { describe, expect, test } from "vitest";
import { decideOutcome } from "./pipeline";

const startedAt = new Date("2026-01-01T00:00:00.000Z");
const completedAt = new Date("2026-01-01T00:00:01.250Z");

describe("the outcome of a model call", () => {
  test("an answer completes the execution with its text, usage, cost and duration", () => {
    const outcome = decideOutcome({ kind: "answered", answer: { text: "hi", inputTokens: 1_000, outputTokens: 500, totalTokens: 1_500 } }, "gpt-4o", startedAt, completedAt);
    expect(outcome).toEqual({
      status: "completed",
      output: { text: "hi" },
      error: null,
      usage: { inputTokens: 1_000, outputTokens: 500, totalTokens: 1_500, costUsd: 0.0075 },
      durationMs: 1_250,
      completedAt,
    });
  });

  test("a provider failure fails it with the provider's message", () => {
    const outcome = decideOutcome({ kind: "failed", code: "provider_error", message: "500 boom" }, "gpt-4o", startedAt, completedAt);
    expect(outcome).toMatchObject({ status: "failed", output: null, error: { code: "provider_error", message: "500 boom" } });
  });

  test("a timeout is timed_out", () => {
    expect(decideOutcome({ kind: "failed", code: "timeout", message: "slow" }, "gpt-4o", startedAt, completedAt)?.status).toBe("timed_out");
  });

  test("a lost lease records nothing", () => {
    expect(decideOutcome({ kind: "failed", code: "lease_lost", message: "gone" }, "gpt-4o", startedAt, completedAt)).toBeNull();
  });
});
