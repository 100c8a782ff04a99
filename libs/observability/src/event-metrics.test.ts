import { Registry } from "prom-client";
import { describe, expect, test } from "vitest";
import { eventMetrics } from "./event-metrics";

async function value(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const sample = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return sample?.value ?? Number.NaN;
}

describe("event metrics", () => {
  test("a model call's cost is counted from its step, an execution's from its end", async () => {
    const registry = new Registry();
    const metrics = eventMetrics(registry);
    const step = (costUsd: number) => ({ step: { name: "model_call", status: "completed", durationMs: 120, detail: { provider: "openai", model: "gpt-4o-mini", inputTokens: 1_000, outputTokens: 500, costUsd } } });
    metrics.observe({ type: "execution.step_completed", data: step(0.00045) });
    metrics.observe({ type: "execution.step_completed", data: step(0.00045) });
    metrics.observe({ type: "execution.completed", data: { execution: { status: "completed", trigger: { type: "manual" }, durationMs: 300, usage: { costUsd: 0.0009 } } } });
    expect(await value(registry, "galaxy_model_cost_usd_total", { provider: "openai", model: "gpt-4o-mini" })).toBeCloseTo(0.0009, 10);
    expect(await value(registry, "galaxy_model_tokens_total", { provider: "openai", model: "gpt-4o-mini", direction: "output" })).toBe(1_000);
    expect(await value(registry, "galaxy_execution_cost_usd_total", { trigger: "manual" })).toBeCloseTo(0.0009, 10);
  });
});
