import { describe, expect, test } from "vitest";
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
