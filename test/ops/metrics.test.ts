import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync } from "node:fs";
import { describe, expect } from "vitest";
import { parse } from "yaml";
import { z } from "zod";
import { Execution, SavedAgent, SignupResult } from "@galaxy/contracts";
import { startOpsServer, type OpsServer } from "@galaxy/observability";
import { galaxyTest, startGalaxyFirst } from "../e2e/fixtures";
import { api, dataOf, eventually } from "../e2e/harness";
import { familyOf, parseSamples, total, type Sample } from "./prometheus-text";

// One run through Galaxy (a manual execution whose agent calls back), then each service's
// `/metrics` scraped from an ops server as production serves it (docs/operations.md, "Metrics").

/**
 * A Galaxy of the file's own (../e2e/fixtures.ts, its callbacks allowed to loopback and retried
 * quickly, the queue depth read every 100 ms), and on it, each set up once per file:
 * - `ops`: an ops server per service, serving that service's metrics as production does;
 * - `callbackUrl`: an endpoint on loopback that takes completion callbacks.
 */
const test = galaxyTest({ worker: { outboundHostAllowlist: "127.0.0.1", queueDepthIntervalMs: 100, callbacks: { backoffBaseMs: 200, pollIntervalMs: 50, timeoutMs: 5_000 } } })
  .extend("ops", { scope: "file" }, async ({ galaxy }, { onCleanup }): Promise<Map<string, OpsServer>> => {
    const ops = new Map<string, OpsServer>();
    onCleanup(async () => {
      for (const server of ops.values()) await server.close();
    });
    for (const [service, registry] of Object.entries(galaxy.metrics)) {
      ops.set(service, await startOpsServer({ port: 0, metrics: registry, readiness: async () => ({}) }));
    }
    return ops;
  })
  .extend("callbackUrl", { scope: "file" }, async ({}, { onCleanup }): Promise<string> => {
    const receiver: Server = createServer((request, response) => {
      request.resume();
      request.on("end", () => response.end("ok"));
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    onCleanup(() => new Promise<void>((resolve) => receiver.close(() => resolve())));
    return `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/callbacks`;
  });
startGalaxyFirst(test);

async function scrape(ops: Map<string, OpsServer>, service: string): Promise<Sample[]> {
  const server = ops.get(service);
  if (!server) throw new Error(`no ops server for ${service}`);
  const response = await fetch(`http://127.0.0.1:${server.port}/metrics`);
  expect(response.status).toBe(200);
  return parseSamples(await response.text());
}

async function scrapeAll(ops: Map<string, OpsServer>): Promise<Record<string, Sample[]>> {
  const all: Record<string, Sample[]> = {};
  for (const service of ops.keys()) all[service] = await scrape(ops, service);
  return all;
}

/** Every metric family named in a PromQL expression (Galaxy's own: `galaxy_…`). */
function familiesIn(expr: string): string[] {
  return [...expr.matchAll(/\bgalaxy_[a-z0-9_]+/g)].map((m) => familyOf(m[0]));
}

describe("metrics an operator alerts on", () => {
  let scraped: Record<string, Sample[]>;

  test("after one execution with a callback, each service's counters moved", async ({ galaxy, ops, callbackUrl }) => {
    const owner = dataOf(SignupResult, await api(galaxy, "POST", "/api/auth/signup", { body: { email: "owner@metrics.example", password: "correct horse battery", name: "Owner", workspaceName: "Metrics" } }));
    const agent = dataOf(SavedAgent, await api(galaxy, "POST", "/api/agents", { token: owner.accessToken, body: { name: "Counted", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "", notifyUrl: callbackUrl } }));
    expect((await api(galaxy, "POST", `/api/agents/${agent.id}/activate`, { token: owner.accessToken })).status).toBe(200);
    const execution = await eventually(async () => {
      const response = await api(galaxy, "POST", `/api/agents/${agent.id}/executions`, { token: owner.accessToken, body: { input: { message: "count me" } } });
      return response.status === 202 ? dataOf(Execution, response) : undefined;
    }, 10_000, "the execution to start");
    await eventually(async () => {
      const current = dataOf(Execution, await api(galaxy, "GET", `/api/executions/${execution.id}`, { token: owner.accessToken }));
      return current.status === "completed" ? current : undefined;
    }, 20_000, "the execution to complete");

    scraped = await eventually(async () => {
      const all = await scrapeAll(ops);
      const worker = all["execution-worker"] ?? [];
      return total(worker, "galaxy_callback_deliveries_total", { outcome: "delivered" }) >= 1 && total(all.audit ?? [], "galaxy_bus_event_age_seconds_count", { consumer: "audit" }) >= 1 ? all : undefined;
    }, 20_000, "the callback and the audit entries to be counted");

    const gateway = scraped.gateway ?? [];
    const worker = scraped["execution-worker"] ?? [];
    const audit = scraped.audit ?? [];
    expect(total(gateway, "galaxy_intake_requests_total", { trigger: "manual", status: "202" })).toBeGreaterThanOrEqual(1);
    expect(total(gateway, "galaxy_http_request_duration_seconds_count")).toBeGreaterThan(0);
    expect(total(worker, "galaxy_executions_queued_total", { trigger: "manual" })).toBe(1);
    expect(total(worker, "galaxy_executions_started_total")).toBe(1);
    expect(total(worker, "galaxy_executions_finished_total", { status: "completed", trigger: "manual" })).toBe(1);
    expect(total(worker, "galaxy_execution_duration_seconds_count", { status: "completed" })).toBe(1);
    expect(total(worker, "galaxy_model_call_duration_seconds_count", { provider: "openai", model: "galaxy-dev-echo", status: "completed" })).toBe(1);
    expect(total(worker, "galaxy_model_tokens_total", { provider: "openai", model: "galaxy-dev-echo", direction: "input" })).toBeGreaterThan(0);
    expect(total(worker, "galaxy_model_tokens_total", { provider: "openai", model: "galaxy-dev-echo", direction: "output" })).toBeGreaterThan(0);
    expect(total(worker, "galaxy_callback_deliveries_total", { outcome: "delivered" })).toBe(1);
    // The consumers' own metrics are on the same ops port: lag read from JetStream at the scrape.
    expect(audit.some((s) => s.name === "galaxy_bus_consumer_lag" && s.labels.consumer === "audit")).toBe(true);
    expect(audit.every((s) => s.name !== "galaxy_bus_dead_letters_total" || s.value === 0)).toBe(true);
    for (const service of ["identity", "agent-registry", "execution-worker", "audit"]) {
      expect(scraped[service]?.some((s) => s.name === "galaxy_outbox_backlog")).toBe(true);
      expect(scraped[service]?.every((s) => s.labels.service === service)).toBe(true);
    }
  }, 60_000);

  test("every alert rule and dashboard panel names metrics the services export", () => {
    const exported = new Set(Object.values(scraped).flatMap((samples) => samples.map((s) => familyOf(s.name))));
    // Declared families with no sample yet (a counter with labels and no increment) are not in
    // the text; these are the ones this run does not move, checked by name in their own files.
    for (const family of ["galaxy_bus_dead_letters_total", "galaxy_bus_consumer_redeliveries_total", "galaxy_tool_calls_total"]) exported.add(family);

    const Rules = z.object({ groups: z.array(z.object({ name: z.string(), rules: z.array(z.object({ alert: z.string(), expr: z.string(), annotations: z.object({ runbook: z.string() }) })) })) });
    const rules = Rules.parse(parse(readFileSync(new URL("../../infra/observability/alerts.yml", import.meta.url), "utf8"))).groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.alert)).toEqual(expect.arrayContaining(["GalaxyConsumerLag", "GalaxyDeadLetters", "GalaxyOutboxBacklog", "GalaxyExecutionErrorRate"]));
    const operations = readFileSync(new URL("../../docs/operations.md", import.meta.url), "utf8");
    for (const rule of rules) {
      expect(familiesIn(rule.expr).length, rule.alert).toBeGreaterThan(0);
      for (const family of familiesIn(rule.expr)) expect(exported, `${rule.alert}: ${family}`).toContain(family);
      expect(operations, `runbook of ${rule.alert}`).toContain(`### ${rule.alert}`);
    }

    const Dashboard = z.object({ panels: z.array(z.object({ title: z.string(), targets: z.array(z.object({ expr: z.string() })) })) });
    const dashboard = Dashboard.parse(JSON.parse(readFileSync(new URL("../../infra/observability/grafana-dashboard.json", import.meta.url), "utf8")));
    for (const panel of dashboard.panels) {
      for (const target of panel.targets) for (const family of familiesIn(target.expr)) expect(exported, `${panel.title}: ${family}`).toContain(family);
    }
  });
});

describe("queue depth by tier", () => {
  test("galaxy_executions_queue_depth{tier} counts the executions waiting beyond the tier's concurrency, then falls back to 0", async ({ galaxy, ops }) => {
    const owner = dataOf(SignupResult, await api(galaxy, "POST", "/api/auth/signup", { body: { email: "queue@metrics.example", password: "correct horse battery", name: "Queue", workspaceName: "Queue" } }));
    const agent = dataOf(SavedAgent, await api(galaxy, "POST", "/api/agents", { token: owner.accessToken, body: { name: "Slow", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "" } }));
    expect((await api(galaxy, "POST", `/api/agents/${agent.id}/activate`, { token: owner.accessToken })).status).toBe(200);
    const queued = async () => total(await scrape(ops, "execution-worker"), "galaxy_executions_queue_depth", { tier: "free" });
    expect(await queued()).toBe(0);
    // Slow answers: a free workspace runs 2 at a time, so 2 of these 4 wait in the queue.
    await galaxy.devModel.control({ latencyMs: 2_000 });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) {
        const execution = await eventually(async () => {
          const response = await api(galaxy, "POST", `/api/agents/${agent.id}/executions`, { token: owner.accessToken, body: { input: { message: `wait ${i}` } } });
          return response.status === 202 ? dataOf(Execution, response) : undefined;
        }, 10_000, "the execution to start");
        ids.push(execution.id);
      }
      await eventually(async () => ((await queued()) >= 1 ? true : undefined), 10_000, "the gauge to count the waiting executions");
      for (const id of ids) {
        await eventually(async () => {
          const current = dataOf(Execution, await api(galaxy, "GET", `/api/executions/${id}`, { token: owner.accessToken }));
          return current.status === "completed" ? current : undefined;
        }, 30_000, "the execution to complete");
      }
    } finally {
      await galaxy.devModel.control({ latencyMs: 0 });
    }
    await eventually(async () => ((await queued()) === 0 ? true : undefined), 10_000, "the gauge to fall back to 0");
  }, 90_000);
});
