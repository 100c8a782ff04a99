import type { ExecutionError, Usage } from "@galaxy/contracts";
import type { ModelFailureCode } from "../errors";
import type { Outcome } from "./executions.repository";
import { costUsd, priceOf } from "./pricing";

/** Tokens an execution's model calls used, summed over its rounds. */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
}

/** The final answer of an execution: its text, the JSON when the agent has an `outputSchema`, and the tokens of every round. */
export interface FinalAnswer extends TokenUsage {
  text: string;
  json?: unknown;
}

/** How an execution's conversation ended that the record is made of. */
export type RecordableResult = { kind: "answered"; answer: FinalAnswer } | { kind: "failed"; code: ModelFailureCode; message: string; usage?: TokenUsage };

/**
 * What an execution's record becomes after its calls; null when this instance lost the lease
 * and must record nothing (the instance that took over will). Tokens a failed execution used
 * before it failed are counted (and cost) all the same.
 */
export function decideOutcome(result: RecordableResult, model: string, startedAt: Date, completedAt: Date): Outcome | null {
  const durationMs = Math.max(0, completedAt.getTime() - startedAt.getTime());
  const usageOf = (tokens: TokenUsage | undefined): Usage =>
    tokens
      ? { inputTokens: tokens.inputTokens, outputTokens: tokens.outputTokens, totalTokens: tokens.totalTokens, costUsd: costUsd(priceOf(model), tokens.inputTokens, tokens.outputTokens) }
      : { inputTokens: 0, outputTokens: 0, totalTokens: 0, costUsd: 0 };
  switch (result.kind) {
    case "answered": {
      const { answer } = result;
      const output = answer.json === undefined ? { text: answer.text } : { text: answer.text, json: answer.json };
      return { status: "completed", output, error: null, usage: usageOf(answer), durationMs, completedAt };
    }
    case "failed": {
      const error: ExecutionError = { code: result.code, message: result.message };
      const ended = (status: Outcome["status"]): Outcome => ({ status, output: null, error, usage: usageOf(result.usage), durationMs, completedAt });
      switch (result.code) {
        case "lease_lost":
          return null;
        case "timeout":
          return ended("timed_out");
        case "cancelled":
          return ended("cancelled");
        case "budget_exceeded":
        case "provider_error":
        case "provider_not_configured":
        case "agent_version_missing":
        case "too_many_attempts":
        case "output_schema_violation":
        case "tool_rounds_exceeded":
        case "knowledge_unavailable":
          return ended("failed");
        default: {
          const exhaustive: never = result.code;
          return exhaustive;
        }
      }
    }
    default: {
      const exhaustive: never = result;
      return exhaustive;
    }
  }
}

/**
 * The JSON of an answer whose agent has an `outputSchema`: the text as JSON, or, when the text
 * wraps it (a code fence, words around it), the outermost object or array in it.
 */
export function parseOutputJson(text: string): { ok: true; value: unknown } | { ok: false } {
  const candidates = [text.trim()];
  const fenced = /```(?:json)?\s*([\s\S]*?)```/i.exec(text);
  if (fenced?.[1]) candidates.push(fenced[1].trim());
  for (const [open, close] of [["{", "}"], ["[", "]"]] as const) {
    const first = text.indexOf(open);
    const last = text.lastIndexOf(close);
    if (first !== -1 && last > first) candidates.push(text.slice(first, last + 1));
  }
  for (const candidate of candidates) {
    try {
      return { ok: true, value: JSON.parse(candidate) as unknown };
    } catch {
      // the next candidate
    }
  }
  return { ok: false };
}
