import { describe, expect } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { z } from "zod";
import { GalaxyError, TERMINAL_STATUSES, type Execution } from "@galaxy/contracts";
import { inWorkspace } from "@galaxy/db";
import { traceIdOf } from "@galaxy/observability";
import { findPinnableAgent } from "../agents/agents.repository";
import { workerTest, startHarnessFirst } from "../../test/support/fixtures";
import { eventually } from "../../test/support/harness";
import { listSteps } from "./executions.repository";
import { incomingTraceparent } from "@galaxy/testkit";

const StoredContext = z.object({ claim: z.string(), traceparent: z.string(), correlationId: z.string(), causationId: z.string() });

const wsA = uuidv7();
const wsB = uuidv7();

const test = workerTest({ maxRetries: 1 })
  .extend("member", { scope: "file" }, async ({ h }) => (ws: string) => h.claims.sign({ ws, role: "member" }))
  .extend("start", { scope: "file" }, async ({ h, member }) =>
    async (ws: string, agentId: string, input: unknown = { message: "hello" }, options: { claim?: string; traceparent?: string; correlationId?: string } = {}): Promise<Execution> =>
      h.caller.request("execution.start", { agentId, input }, { claim: options.claim ?? (await member(ws)), workspaceId: ws, traceparent: options.traceparent, correlationId: options.correlationId }))
  .extend("get", { scope: "file" }, async ({ h, member }) => async (ws: string, id: string, claim?: string): Promise<Execution> =>
    h.caller.request("execution.get", { id }, { claim: claim ?? (await member(ws)), workspaceId: ws }))
  .extend("finished", { scope: "file" }, async ({ get }) => async (ws: string, id: string, timeoutMs = 10_000): Promise<Execution> =>
    eventually(async () => {
      const execution = await get(ws, id);
      return TERMINAL_STATUSES.has(execution.status) ? execution : null;
    }, timeoutMs, `execution ${id} to finish`))
  /** The agent as the worker's projection has it, once its events arrived. */
  .extend("projected", { scope: "file" }, async ({ h }) => async (ws: string, agentId: string, status: "draft" | "active") =>
    eventually(async () => {
      const agent = await inWorkspace(h.db, ws, (tx) => findPinnableAgent(tx, agentId));
      return agent?.status === status ? agent : null;
    }));

test.beforeEach(async ({ h }) => {
  await h.devModel.control({ reset: true });
});

async function refusal(promise: Promise<unknown>): Promise<GalaxyError> {
  const error = await promise.then(() => null, (e: unknown) => e);
  if (!(error instanceof GalaxyError)) throw new Error(`expected a GalaxyError, got ${String(error)}`);
  return error;
}

describe("execution.start and execution.get", () => {
  test("a started execution is queued and readable at once, then completes with the model's answer, usage and its events", async ({ h, start, get, finished, projected }) => {
    const agent = await h.registry.createActive(wsA);
    await projected(wsA, agent.id, "active");
    const gets = h.registry.gets;
    const traceparent = incomingTraceparent();
    const correlationId = uuidv7();

    const queued = await start(wsA, agent.id, { message: "hello" }, { traceparent, correlationId });
    expect(queued).toMatchObject({ workspaceId: wsA, agentId: agent.id, agentVersion: 1, status: "queued", trigger: { type: "manual" }, input: { message: "hello" }, output: null });
    expect(queued.usage).toEqual({ inputTokens: 0, outputTokens: 0, totalTokens: 0, costUsd: 0 });
    const readable = await get(wsA, queued.id);
    expect(readable.id).toBe(queued.id);
    expect(readable.createdAt).toBe(queued.createdAt);

    const done = await finished(wsA, queued.id);
    expect(done.status).toBe("completed");
    expect(done.output).toEqual({ text: "echo: hello" });
    expect(done.error).toBeNull();
    expect(done.usage.inputTokens).toBeGreaterThan(0);
    expect(done.usage.outputTokens).toBeGreaterThan(0);
    expect(done.usage.totalTokens).toBe(done.usage.inputTokens + done.usage.outputTokens);
    expect(done.usage.costUsd).toBe(0);
    expect(done.durationMs).toBeGreaterThanOrEqual(0);
    expect(done.startedAt).not.toBeNull();
    expect(done.completedAt).not.toBeNull();
    // The projection answered: the registry was not asked.
    expect(h.registry.gets).toBe(gets);

    const completed = await h.events.waitFor(queued.id, "execution.completed");
    expect(h.events.of(queued.id).map((event) => event.type)).toEqual(["execution.queued", "execution.started", "execution.completed"]);
    expect(completed.actor).toEqual({ type: "service", id: "execution-worker" });
    if (completed.type === "execution.completed") expect(completed.data.execution).toEqual(done);

    const steps = await inWorkspace(h.db, wsA, (tx) => listSteps(tx, queued.id));
    expect(steps.map((step) => [step.name, step.status])).toEqual([
      ["model_call", "completed"],
      ["output", "completed"],
    ]);
  });

  test("the pipeline's events continue the request's trace and correlation, caused one by the other, under a service claim", async ({ h, start, projected }) => {
    const agent = await h.registry.createActive(wsA);
    await projected(wsA, agent.id, "active");
    const traceparent = incomingTraceparent();
    const correlationId = uuidv7();
    const queued = await start(wsA, agent.id, { message: "trace me" }, { traceparent, correlationId });
    await h.events.waitFor(queued.id, "execution.completed");

    const outbox = await inWorkspace(h.db, wsA, (tx) => tx.selectFrom("outbox").select(["id", "type", "context"]).orderBy("created_at").orderBy("id").execute());
    const rows = outbox.filter((row) => h.events.of(queued.id).some((event) => event.id === row.id));
    expect(rows.map((row) => row.type)).toEqual(["execution.queued", "execution.started", "execution.completed"]);
    const contexts = rows.map((row) => StoredContext.parse(row.context));
    for (const context of contexts) {
      expect(traceIdOf(context.traceparent)).toBe(traceIdOf(traceparent));
      expect(context.correlationId).toBe(correlationId);
    }
    expect(contexts[1]?.causationId).toBe(rows[0]?.id);
    expect(contexts[2]?.causationId).toBe(rows[1]?.id);
    const [queuedClaim, startedClaim] = await Promise.all([h.caller.claims.verify(contexts[0]?.claim, { checkExpiry: false }), h.caller.claims.verify(contexts[1]?.claim, { checkExpiry: false })]);
    expect(queuedClaim.act).toBe("user");
    expect(startedClaim).toMatchObject({ act: "service", sub: "execution-worker", ws: wsA });
  });

  test("starting a draft agent is a 409 agent_not_active", async ({ h, start, projected }) => {
    const { agent } = await h.registry.create(wsA);
    await projected(wsA, agent.id, "draft");
    const error = await refusal(start(wsA, agent.id));
    expect(error).toMatchObject({ status: 409, code: "agent_not_active" });
  });

  test("starting an unknown agent is a 404 agent_not_found", async ({ start }) => {
    const error = await refusal(start(wsA, uuidv7()));
    expect(error).toMatchObject({ status: 404, code: "agent_not_found" });
  });

  test("another workspace's agent and execution are 404s, as if they did not exist", async ({ h, start, get, finished, projected }) => {
    const agent = await h.registry.createActive(wsA);
    await projected(wsA, agent.id, "active");
    const queued = await start(wsA, agent.id);
    expect(await refusal(get(wsB, queued.id))).toMatchObject({ status: 404, code: "execution_not_found" });
    expect(await refusal(start(wsB, agent.id))).toMatchObject({ status: 404, code: "agent_not_found" });
    await finished(wsA, queued.id);
  });

  test("a viewer may read executions but not start one (403)", async ({ h, start, get, finished, projected }) => {
    const agent = await h.registry.createActive(wsA);
    await projected(wsA, agent.id, "active");
    const viewer = await h.claims.sign({ ws: wsA, role: "viewer" });
    expect(await refusal(start(wsA, agent.id, { message: "hi" }, { claim: viewer }))).toMatchObject({ status: 403, code: "forbidden" });
    const queued = await start(wsA, agent.id);
    expect((await get(wsA, queued.id, viewer)).id).toBe(queued.id);
    await finished(wsA, queued.id);
  });

  test("an agent the projection has not seen yet is fetched from the registry, kept, and run", async ({ h, start, finished }) => {
    const agent = h.registry.put(wsA, { status: "active" });
    const gets = h.registry.gets;
    const queued = await start(wsA, agent.id, { message: "from the registry" });
    expect(h.registry.gets).toBe(gets + 1);
    expect(queued.agentVersion).toBe(1);
    const done = await finished(wsA, queued.id);
    expect(done.output).toEqual({ text: "echo: from the registry" });
    const kept = await inWorkspace(h.db, wsA, (tx) => findPinnableAgent(tx, agent.id));
    expect(kept).toMatchObject({ status: "active", version: 1, config: { model: "galaxy-dev-echo" } });
    await start(wsA, agent.id);
    expect(h.registry.gets).toBe(gets + 1);
  });

  test("an agent activated in the registry before its event arrived starts, on the registry's word", async ({ h, start, finished, projected }) => {
    const { agent } = await h.registry.create(wsA);
    await projected(wsA, agent.id, "draft");
    h.registry.agents.set(agent.id, { ...agent, status: "active", updatedAt: new Date().toISOString() });
    const queued = await start(wsA, agent.id);
    expect((await finished(wsA, queued.id)).status).toBe("completed");
  });

  test("input that is not {message: string} reaches the model as JSON", async ({ h, start, finished, projected }) => {
    const agent = await h.registry.createActive(wsA);
    await projected(wsA, agent.id, "active");
    const queued = await start(wsA, agent.id, { order: 42, items: ["a"] });
    const text = (await finished(wsA, queued.id)).output?.text ?? "";
    expect(text.startsWith("echo: ")).toBe(true);
    // jsonb keeps keys in its own order; the JSON means the same.
    expect(JSON.parse(text.slice("echo: ".length))).toEqual({ order: 42, items: ["a"] });
  });
});

describe("the pipeline", () => {
  test("a provider that keeps failing fails the execution with the provider's message", async ({ h, start, finished, projected }) => {
    const agent = await h.registry.createActive(wsA);
    await projected(wsA, agent.id, "active");
    // maxRetries is 1: two failures exhaust the call.
    await h.devModel.control({ failNext: { count: 2, status: 500 } });
    const queued = await start(wsA, agent.id);
    const done = await finished(wsA, queued.id);
    expect(done.status).toBe("failed");
    expect(done.error?.code).toBe("provider_error");
    expect(done.error?.message).toContain("The server had an error while processing your request");
    expect(done.output).toBeNull();
    const failed = await h.events.waitFor(queued.id, "execution.failed");
    if (failed.type === "execution.failed") expect(failed.data.execution.error).toEqual(done.error);
    const steps = await inWorkspace(h.db, wsA, (tx) => listSteps(tx, queued.id));
    expect(steps.map((step) => step.status)).toEqual(["failed"]);
  });

  test("a provider failure the client's retry outlasts still completes", async ({ h, start, finished, projected }) => {
    const agent = await h.registry.createActive(wsA);
    await projected(wsA, agent.id, "active");
    await h.devModel.control({ failNext: { count: 1, status: 503 } });
    const queued = await start(wsA, agent.id);
    const done = await finished(wsA, queued.id);
    expect(done.status).toBe("completed");
    expect(done.output?.text).toBe("echo: hello");
  });

  test("a model slower than the agent's timeoutMs times the execution out", async ({ h, start, finished, projected }) => {
    const agent = await h.registry.createActive(wsA, { timeoutMs: 1_000 });
    await projected(wsA, agent.id, "active");
    await h.devModel.control({ latencyMs: 2_500 });
    const queued = await start(wsA, agent.id);
    const done = await finished(wsA, queued.id);
    expect(done.status).toBe("timed_out");
    expect(done.error?.code).toBe("timeout");
    expect(done.durationMs).toBeGreaterThanOrEqual(1_000);
    expect(done.durationMs).toBeLessThan(2_500);
    await h.events.waitFor(queued.id, "execution.failed");
  });

  test.for(["anthropic", "google"] as const)("an agent on %s runs through that provider's client", async (provider, { h, start, finished, projected }) => {
    const agent = await h.registry.createActive(wsA, { provider, model: "galaxy-dev-echo", maxTokens: 100 });
    await projected(wsA, agent.id, "active");
    const queued = await start(wsA, agent.id, { message: "bonjour" });
    const done = await finished(wsA, queued.id);
    expect(done.status).toBe("completed");
    expect(done.output).toEqual({ text: "echo: bonjour" });
    expect(done.usage.inputTokens).toBeGreaterThan(0);
  });

  test("executions of two workspaces both complete", async ({ h, start, finished, projected }) => {
    const [a, b] = await Promise.all([h.registry.createActive(wsA), h.registry.createActive(wsB)]);
    if (!a || !b) throw new Error("agents missing");
    await Promise.all([projected(wsA, a.id, "active"), projected(wsB, b.id, "active")]);
    const [x, y] = await Promise.all([start(wsA, a.id, { message: "from A" }), start(wsB, b.id, { message: "from B" })]);
    const [doneX, doneY] = await Promise.all([finished(wsA, x.id), finished(wsB, y.id)]);
    expect(doneX).toMatchObject({ workspaceId: wsA, status: "completed", output: { text: "echo: from A" } });
    expect(doneY).toMatchObject({ workspaceId: wsB, status: "completed", output: { text: "echo: from B" } });
  });

  test("more executions than a free workspace runs at once (2) all complete, each with its own answer", async ({ h, start, finished, projected }) => {
    const agent = await h.registry.createActive(wsB);
    await projected(wsB, agent.id, "active");
    await h.devModel.control({ latencyMs: 50 });
    const started = await Promise.all(Array.from({ length: 20 }, (_, i) => start(wsB, agent.id, { message: `n${i}` })));
    const done = await Promise.all(started.map((execution) => finished(wsB, execution.id)));
    expect(done.map((execution) => execution.output?.text)).toEqual(started.map((_, i) => `echo: n${i}`));
  });
});

describe("shutdown", () => {
  test("stopping the worker finishes the execution it is running", async ({ h, start, projected }) => {
    const agent = await h.registry.createActive(wsA);
    await projected(wsA, agent.id, "active");
    await h.devModel.control({ latencyMs: 500 });
    const queued = await start(wsA, agent.id);
    await h.events.waitFor(queued.id, "execution.started");
    await h.stopWorker();
    const row = await inWorkspace(h.db, wsA, (tx) => tx.selectFrom("executions").select(["status", "output"]).where("id", "=", queued.id).executeTakeFirst());
    expect(row).toEqual({ status: "completed", output: { text: "echo: hello" } });
  });
});

startHarnessFirst(test);