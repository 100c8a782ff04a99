import { describe, expect, test } from "vitest";
import type { ModelFailureCode } from "../errors";
import { decideOutcome, parseOutputJson } from "./outcome";

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

  test("an answer with JSON keeps it in output.json", () => {
    const outcome = decideOutcome({ kind: "answered", answer: { text: '{"a":1}', json: { a: 1 }, inputTokens: 1, outputTokens: 1, totalTokens: 2 } }, "galaxy-dev-echo", startedAt, completedAt);
    expect(outcome?.output).toEqual({ text: '{"a":1}', json: { a: 1 } });
  });

  test("a failure after model calls keeps the tokens they used, and their cost", () => {
    const outcome = decideOutcome(
      { kind: "failed", code: "output_schema_violation", message: "no", usage: { inputTokens: 1_000, outputTokens: 500, totalTokens: 1_500 } },
      "gpt-4o",
      startedAt,
      completedAt,
    );
    expect(outcome).toMatchObject({ status: "failed", error: { code: "output_schema_violation", message: "no" }, usage: { inputTokens: 1_000, outputTokens: 500, totalTokens: 1_500, costUsd: 0.0075 } });
  });
});

describe("given a failure, when its outcome is decided, then its code says the status", () => {
  const statusOf: Record<ModelFailureCode, string | null> = {
    lease_lost: null,
    timeout: "timed_out",
    cancelled: "cancelled",
    budget_exceeded: "failed",
    provider_error: "failed",
    provider_not_configured: "failed",
    agent_version_missing: "failed",
    too_many_attempts: "failed",
    output_schema_violation: "failed",
    tool_rounds_exceeded: "failed",
    knowledge_unavailable: "failed",
  };
  test.each(Object.entries(statusOf) as Array<[ModelFailureCode, string | null]>)("%s → %s, with the error kept", (code, status) => {
    const outcome = decideOutcome({ kind: "failed", code, message: "why" }, "gpt-4o", startedAt, completedAt);
    expect(outcome?.status ?? null).toBe(status);
    if (outcome) expect(outcome).toMatchObject({ output: null, error: { code, message: "why" }, durationMs: 1_250, usage: { totalTokens: 0, costUsd: 0 } });
  });

  test("given a completion time before the start (a clock step), when decided, then the duration is 0, never negative", () => {
    expect(decideOutcome({ kind: "failed", code: "provider_error", message: "x" }, "gpt-4o", completedAt, startedAt)?.durationMs).toBe(0);
  });
});

describe("the JSON of an answer", () => {
  test("is the text parsed when it is JSON", () => {
    expect(parseOutputJson(' {"a": [1, 2]} ')).toEqual({ ok: true, value: { a: [1, 2] } });
    expect(parseOutputJson("42")).toEqual({ ok: true, value: 42 });
  });

  test("is found inside a code fence or words around it", () => {
    expect(parseOutputJson('Here:\n```json\n{"a": 1}\n```')).toEqual({ ok: true, value: { a: 1 } });
    expect(parseOutputJson('echo: {"answer": 42}')).toEqual({ ok: true, value: { answer: 42 } });
    expect(parseOutputJson("the list is [1, 2, 3].")).toEqual({ ok: true, value: [1, 2, 3] });
  });

  test("is absent when there is no JSON", () => {
    expect(parseOutputJson("echo: hello")).toEqual({ ok: false });
    expect(parseOutputJson("{not json}")).toEqual({ ok: false });
  });
});
