import { randomUUID } from "node:crypto";
import { describe, expect } from "vitest";
import { z } from "zod";
import { Agent, EventEnvelope, Execution, ExecutionDelta, ErrorBody, Pagination, SignupResult } from "@galaxy/contracts";
import { inWorkspace, sql } from "@galaxy/db";
import { TIERS } from "@galaxy/execution-worker";
import { galaxyTest, startGalaxyFirst } from "./fixtures";
import { api, dataOf, eventually, type Galaxy } from "./harness";
import { readExecutionEvents, type SseFrame } from "./sse";

/**
 * An execution's life through the gateway: cancel (queued and running), timeout, idempotent
 * starts, the SSE stream (in order, live, resumed with Last-Event-ID), lists, and the tier's
 * quota and token budget. What reaches the model (a cancel aborting the call, the time limit,
 * live deltas, the budget capping the answer) runs on each provider's API.
 */

const PROVIDERS = ["openai", "anthropic", "google"] as const;

/**
 * `superuser` reaches across schemas, as an operator would: only to remove the gateway's record
 * of a key. `workerDb` reads and writes the worker's own tables.
 */
const test = galaxyTest()
  /** Records `tokens` as already spent by a new workspace this month (UTC), as the worker counts them. */
  .extend("spent", { scope: "file" }, async ({ workerDb }) => async (workspaceId: string, tokens: number): Promise<void> => {
    const month = `${new Date().toISOString().slice(0, 7)}-01`;
    await inWorkspace(workerDb, workspaceId, (tx) => tx.insertInto("workspace_usage").values({ workspace_id: workspaceId, month, tokens, executions: 0 }).execute());
  })
  /** A new workspace (free tier) and its owner's token. */
  .extend("workspace", { scope: "file" }, async ({ galaxy }) => async (): Promise<{ token: string; workspaceId: string }> => {
    const signup = await api(galaxy, "POST", "/api/auth/signup", { body: { email: `${randomUUID()}@example.com`, password: "correct horse battery", name: "Ada", workspaceName: "Lifecycle" } });
    const result = dataOf(SignupResult, signup);
    return { token: result.accessToken, workspaceId: result.workspace.id };
  })
  .extend("activeAgent", { scope: "file" }, async ({ galaxy }) => async (token: string, body: Record<string, unknown> = {}): Promise<Agent> => {
    const created = await api(galaxy, "POST", "/api/agents", { token, body: { name: "Lifecycle", systemPrompt: "Be brief.", provider: "openai", model: "galaxy-dev-echo", ...body } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const agent = dataOf(Agent, created);
    expect((await api(galaxy, "POST", `/api/agents/${agent.id}/activate`, { token })).status).toBe(200);
    return agent;
  })
  .extend("start", { scope: "file" }, async ({ galaxy }) => async (token: string, agentId: string, input: unknown = { message: "hello" }, headers: Record<string, string> = {}): Promise<Execution> => {
    const started = await api(galaxy, "POST", `/api/agents/${agentId}/executions`, { token, body: { input }, headers });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    return dataOf(Execution, started);
  })
  .extend("get", { scope: "file" }, async ({ galaxy }) => async (token: string, id: string): Promise<Execution> => {
    return dataOf(Execution, await api(galaxy, "GET", `/api/executions/${id}`, { token }));
  })
  .extend("ended", { scope: "file" }, async ({ get }) => async (token: string, id: string, timeoutMs = 15_000): Promise<Execution> => {
    return eventually(async () => {
      const current = await get(token, id);
      return current.status === "queued" || current.status === "running" ? undefined : current;
    }, timeoutMs, `execution ${id} to end`);
  })
  .extend("storedEvents", { scope: "file" }, async ({ workerDb }) => async (workspaceId: string, executionId: string) => {
    return inWorkspace(workerDb, workspaceId, (tx) => tx.selectFrom("execution_events").select(["seq", "type"]).where("execution_id", "=", executionId).orderBy("seq").execute());
  });
startGalaxyFirst(test);

test.beforeEach(async ({ galaxy }) => {
  await galaxy.devModel.control({ reset: true });
});

const Frame = z.object({ id: z.string().optional(), event: z.string(), data: z.string() });

/** The stored (numbered) frames of a stream: seq, type and the event. */
function numbered(frames: SseFrame[]) {
  return frames
    .filter((frame) => frame.id !== undefined)
    .map((frame) => {
      const parsed = Frame.parse(frame);
      const event = EventEnvelope.parse(JSON.parse(parsed.data));
      return { seq: Number(parsed.id), type: parsed.event, event };
    });
}

describe("cancel", () => {
  test("a queued execution ends cancelled at once, with one execution.cancelled event; a second cancel is a 409", async ({ galaxy, workspace, activeAgent, start, get, ended, storedEvents }) => {
    const { token, workspaceId } = await workspace();
    const agent = await activeAgent(token);
    await galaxy.devModel.control({ latencyMs: 3_000 });
    // The free tier runs two at once: the third waits in the queue.
    const running = [await start(token, agent.id), await start(token, agent.id)];
    const queued = await start(token, agent.id);
    await eventually(async () => ((await Promise.all(running.map((e) => get(token, e.id)))).every((e) => e.status === "running") ? true : undefined), 5_000, "two running");
    expect((await get(token, queued.id)).status).toBe("queued");

    const cancelled = await api(galaxy, "POST", `/api/executions/${queued.id}/cancel`, { token });
    expect(cancelled.status, JSON.stringify(cancelled.body)).toBe(202);
    expect(dataOf(Execution, cancelled)).toMatchObject({ id: queued.id, status: "cancelled", startedAt: null, error: { code: "cancelled" } });
    expect((await get(token, queued.id)).status).toBe("cancelled");

    const again = await api(galaxy, "POST", `/api/executions/${queued.id}/cancel`, { token });
    expect(again.status).toBe(409);
    expect(ErrorBody.parse(again.body).code).toBe("execution_terminal");
    expect(await storedEvents(workspaceId, queued.id)).toEqual([
      { seq: 1, type: "execution.queued" },
      { seq: 2, type: "execution.cancelled" },
    ]);
    // It never runs: the two that were running end, and it stays cancelled.
    await galaxy.devModel.control({ latencyMs: 0 });
    for (const e of running) await ended(token, e.id);
    expect((await get(token, queued.id)).status).toBe("cancelled");
  });

  test.for(PROVIDERS)("a running execution's model call on %s is aborted and it ends cancelled exactly once", async (provider, { galaxy, workspace, activeAgent, start, get, ended, storedEvents }) => {
    const { token, workspaceId } = await workspace();
    const agent = await activeAgent(token, { provider });
    await galaxy.devModel.control({ latencyMs: 20_000 });
    const execution = await start(token, agent.id);
    await eventually(async () => ((await get(token, execution.id)).status === "running" ? true : undefined), 5_000, "running");

    const cancelled = await api(galaxy, "POST", `/api/executions/${execution.id}/cancel`, { token });
    expect(cancelled.status, JSON.stringify(cancelled.body)).toBe(202);
    // The model would answer in 20 s: it ends long before, so the call was aborted.
    const done = await ended(token, execution.id, 5_000);
    expect(done).toMatchObject({ status: "cancelled", error: { code: "cancelled" }, output: null });
    const types = (await storedEvents(workspaceId, execution.id)).map((e) => e.type);
    expect(types.filter((t) => t === "execution.cancelled")).toHaveLength(1);
    expect(types.filter((t) => t === "execution.completed" || t === "execution.failed")).toEqual([]);
    expect(types[0]).toBe("execution.queued");
    expect(types.at(-1)).toBe("execution.cancelled");
    expect((await api(galaxy, "POST", `/api/executions/${execution.id}/cancel`, { token })).status).toBe(409);
  });
});

describe("timeout and idempotency", () => {
  test.for(PROVIDERS)("an agent's timeoutMs ends a slow execution on %s timed_out", async (provider, { galaxy, workspace, activeAgent, start, ended }) => {
    const { token } = await workspace();
    const agent = await activeAgent(token, { provider, timeoutMs: 1_000 });
    await galaxy.devModel.control({ latencyMs: 5_000 });
    const execution = await start(token, agent.id);
    expect(await ended(token, execution.id)).toMatchObject({ status: "timed_out", error: { code: "timeout" } });
  });

  test("the same Idempotency-Key starts one execution; another body with it is a 409", async ({ galaxy, workerDb, workspace, activeAgent, start, ended }) => {
    const { token, workspaceId } = await workspace();
    const agent = await activeAgent(token);
    const key = randomUUID();
    const first = await start(token, agent.id, { message: "once" }, { "idempotency-key": key });
    const repeat = await api(galaxy, "POST", `/api/agents/${agent.id}/executions`, { token, body: { input: { message: "once" } }, headers: { "idempotency-key": key } });
    expect(repeat.status).toBe(202);
    expect(repeat.headers.get("idempotent-replayed")).toBe("true");
    expect(dataOf(Execution, repeat).id).toBe(first.id);
    const other = await api(galaxy, "POST", `/api/agents/${agent.id}/executions`, { token, body: { input: { message: "twice" } }, headers: { "idempotency-key": key } });
    expect(other.status).toBe(409);
    await ended(token, first.id);
    const rows = await inWorkspace(workerDb, workspaceId, (tx) => tx.selectFrom("executions").select("id").where("agent_id", "=", agent.id).execute());
    expect(rows).toEqual([{ id: first.id }]);
  });

  test("a start whose answer was lost is not started twice: with the gateway's record of the key gone, a retry answers the same execution", async ({ galaxy, workerDb, superuser, workspace, activeAgent, start, ended }) => {
    const { token, workspaceId } = await workspace();
    const agent = await activeAgent(token);
    const key = randomUUID();
    const first = await start(token, agent.id, { message: "lost answer" }, { "idempotency-key": key });
    // As when the reply was lost with NATS, or the gateway died before writing the record.
    await sql`delete from gateway.idempotency_keys where key = ${key}`.execute(superuser);
    const retry = await api(galaxy, "POST", `/api/agents/${agent.id}/executions`, { token, body: { input: { message: "lost answer" } }, headers: { "idempotency-key": key } });
    expect(retry.status).toBe(202);
    expect(retry.headers.get("idempotent-replayed")).toBeNull();
    expect(dataOf(Execution, retry).id).toBe(first.id);
    await ended(token, first.id);
    const rows = await inWorkspace(workerDb, workspaceId, (tx) => tx.selectFrom("executions").select("id").where("agent_id", "=", agent.id).execute());
    expect(rows).toEqual([{ id: first.id }]);
  });
});

describe("the event stream", () => {
  test("stored events in order with their seq as id, closing after the terminal event; Last-Event-ID resumes after it", async ({ galaxy, workspace, activeAgent, start, ended }) => {
    const { token } = await workspace();
    const agent = await activeAgent(token);
    const execution = await start(token, agent.id, { message: "stream me" });
    await ended(token, execution.id);

    const full = await readExecutionEvents(galaxy, execution.id, token);
    expect(full.status).toBe(200);
    expect(full.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const events = numbered(full.frames);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events[0]?.type).toBe("execution.queued");
    expect(events[1]?.type).toBe("execution.started");
    expect(events.at(-1)?.type).toBe("execution.completed");
    for (const e of events) {
      expect(e.event.type).toBe(e.type);
      expect(e.event.data).toMatchObject({ executionId: execution.id, seq: e.seq });
    }

    const resumed = await readExecutionEvents(galaxy, execution.id, token, { lastEventId: "2" });
    expect(numbered(resumed.frames).map((e) => e.seq)).toEqual(events.slice(2).map((e) => e.seq));
    expect(numbered(resumed.frames).map((e) => e.event.id)).toEqual(events.slice(2).map((e) => e.event.id));
  });

  test("an input close to 1 MiB runs, reads back whole and streams its stored events, even where NATS carries 1 MB a message", async ({ galaxy, workspace, activeAgent, start, ended }) => {
    const { token } = await workspace();
    const agent = await activeAgent(token);
    // With the echo model's output beside it, about 2 MiB: the execution's events and replies travel gzipped (docs/bus.md, "Large messages").
    const message = "w".repeat(1024 * 1024 - 64);
    const execution = await start(token, agent.id, { message });
    const done = await ended(token, execution.id);
    expect(done.status, JSON.stringify(done.error)).toBe("completed");
    expect(done.input).toEqual({ message });
    expect(done.output?.text).toBe(`echo: ${message}`);
    const stream = await readExecutionEvents(galaxy, execution.id, token);
    expect(stream.status).toBe(200);
    expect(numbered(stream.frames).at(-1)?.type).toBe("execution.completed");
  });

  test.for(PROVIDERS)("a stream opened while the execution on %s runs gets the live events and token deltas, then closes", async (provider, { galaxy, workspace, activeAgent, start }) => {
    const { token } = await workspace();
    const agent = await activeAgent(token, { provider });
    await galaxy.devModel.control({ latencyMs: 1_000 });
    const execution = await start(token, agent.id, { message: "live words arrive one by one" });
    const stream = await readExecutionEvents(galaxy, execution.id, token);
    const events = numbered(stream.frames);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.at(-1)?.type).toBe("execution.completed");
    const deltas = stream.frames.filter((frame) => frame.event === "execution.delta");
    expect(deltas.length).toBeGreaterThan(0);
    for (const frame of deltas) {
      expect(frame.id).toBeUndefined();
      expect(ExecutionDelta.parse(JSON.parse(frame.data ?? "")).executionId).toBe(execution.id);
    }
    // Deltas come before the terminal event, never after.
    expect(stream.frames.at(-1)?.event).toBe("execution.completed");
  });

  test("another workspace's execution is a 404 before any stream; a bad Last-Event-ID is a 400", async ({ galaxy, workspace, activeAgent, start, ended }) => {
    const a = await workspace();
    const b = await workspace();
    const agent = await activeAgent(a.token);
    const execution = await start(a.token, agent.id);
    const foreign = await api(galaxy, "GET", `/api/executions/${execution.id}/events`, { token: b.token });
    expect(foreign.status).toBe(404);
    const bad = await api(galaxy, "GET", `/api/executions/${execution.id}/events`, { token: a.token, headers: { "last-event-id": "three" } });
    expect(bad.status).toBe(400);
    await ended(a.token, execution.id);
  });
});

describe("lists", () => {
  test("the workspace's executions, newest first, by status and by agent, paginated", async ({ galaxy, workspace, activeAgent, start, ended }) => {
    const { token } = await workspace();
    const one = await activeAgent(token);
    const two = await activeAgent(token);
    const first = await start(token, one.id);
    const second = await start(token, two.id);
    const third = await start(token, one.id);
    for (const e of [first, second, third]) await ended(token, e.id);

    const Page = z.object({ data: z.array(Execution), pagination: Pagination });
    const all = Page.parse((await api(galaxy, "GET", "/api/executions", { token })).body);
    expect(all.data.map((e) => e.id)).toEqual([third.id, second.id, first.id]);
    expect(all.pagination).toEqual({ total: 3, limit: 20, offset: 0, hasMore: false, nextCursor: null });

    const ofOne = Page.parse((await api(galaxy, "GET", `/api/agents/${one.id}/executions?limit=1`, { token })).body);
    expect(ofOne.data.map((e) => e.id)).toEqual([third.id]);
    expect(ofOne.pagination).toEqual({ total: 2, limit: 1, offset: 0, hasMore: true, nextCursor: expect.any(String) });
    const filtered = Page.parse((await api(galaxy, "GET", `/api/executions?agentId=${two.id}&status=completed`, { token })).body);
    expect(filtered.data.map((e) => e.id)).toEqual([second.id]);
    expect(Page.parse((await api(galaxy, "GET", "/api/executions?status=cancelled", { token })).body).data).toEqual([]);
    expect((await api(galaxy, "GET", "/api/executions?status=lost", { token })).status).toBe(400);
  });
});

describe("quota and budget", () => {
  test("an input that fails the agent's inputSchema is a 400 naming the field, and nothing is recorded", async ({ galaxy, workerDb, workspace, activeAgent }) => {
    const { token, workspaceId } = await workspace();
    const agent = await activeAgent(token, { inputSchema: { type: "object", properties: { message: { type: "string" } }, required: ["message"] } });
    const refused = await api(galaxy, "POST", `/api/agents/${agent.id}/executions`, { token, body: { input: { message: 42 } } });
    expect(refused.status).toBe(400);
    expect(ErrorBody.parse(refused.body)).toMatchObject({ code: "input_invalid", details: { "input.message": expect.any(String) } });
    const missing = await api(galaxy, "POST", `/api/agents/${agent.id}/executions`, { token, body: { input: {} } });
    expect(ErrorBody.parse(missing.body).details).toHaveProperty(["input.message"]);
    expect(await inWorkspace(workerDb, workspaceId, (tx) => tx.selectFrom("executions").select("id").execute())).toEqual([]);
  });

  test("a workspace that spent its month's tokens gets 429 quota_exceeded with Retry-After", async ({ galaxy, spent, workspace, activeAgent }) => {
    const { token, workspaceId } = await workspace();
    const agent = await activeAgent(token);
    await spent(workspaceId, TIERS.free.monthlyTokens);
    const refused = await api(galaxy, "POST", `/api/agents/${agent.id}/executions`, { token, body: { input: { message: "more" } } });
    expect(refused.status).toBe(429);
    expect(ErrorBody.parse(refused.body).code).toBe("quota_exceeded");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    // The same key may try again later: a 429 is not kept as the key's answer.
    const key = randomUUID();
    expect((await api(galaxy, "POST", `/api/agents/${agent.id}/executions`, { token, body: { input: {} }, headers: { "idempotency-key": key } })).status).toBe(429);
    expect((await api(galaxy, "POST", `/api/agents/${agent.id}/executions`, { token, body: { input: {} }, headers: { "idempotency-key": key } })).headers.get("idempotent-replayed")).toBeNull();
  });

  test.for(PROVIDERS)("the budget caps the %s model's answer at what is left, failing budget_exceeded when it is reached; usage is counted once", async (provider, { galaxy, workerDb, spent, workspace, activeAgent, start, ended }) => {
    const { token, workspaceId } = await workspace();
    const agent = await activeAgent(token, { provider });
    // Three tokens left this month.
    await spent(workspaceId, TIERS.free.monthlyTokens - 3);
    const execution = await start(token, agent.id, { message: "a long answer that needs many more than three tokens" });
    const done = await ended(token, execution.id);
    expect(done).toMatchObject({ status: "failed", error: { code: "budget_exceeded" } });
    expect(done.usage.outputTokens).toBeLessThanOrEqual(3);
    const usage = await inWorkspace(workerDb, workspaceId, (tx) => tx.selectFrom("workspace_usage").select(["tokens", "executions"]).executeTakeFirstOrThrow());
    expect(Number(usage.tokens)).toBe(TIERS.free.monthlyTokens - 3 + done.usage.totalTokens);
    // The next start is refused at intake.
    expect((await api(galaxy, "POST", `/api/agents/${agent.id}/executions`, { token, body: { input: {} } })).status).toBe(429);
  });
});

describe("reading a finished execution", () => {
  /** Reads of `GET /api/executions/{id}` the gateway answered from its memory so far. */
  const fromMemory = async (galaxy: Galaxy): Promise<number> => {
    const reads = await galaxy.metrics.gateway.getSingleMetric("galaxy_gateway_execution_reads_total")?.get();
    return reads?.values.find((value) => value.labels["source"] === "memory")?.value ?? 0;
  };

  test("its later reads are answered from the gateway's memory with the same body, and never to another workspace", async ({ galaxy, workspace, activeAgent, start, ended }) => {
    const owner = await workspace();
    const stranger = await workspace();
    const execution = await start(owner.token, (await activeAgent(owner.token)).id);
    // The read that sees it finished is the worker's answer, and is kept.
    const done = await ended(owner.token, execution.id);
    const before = await fromMemory(galaxy);
    const again = await api(galaxy, "GET", `/api/executions/${execution.id.toUpperCase()}`, { token: owner.token });
    expect(await fromMemory(galaxy)).toBe(before + 1);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ data: done });
    expect(again.headers.get("content-type")).toBe("application/json; charset=utf-8");
    const elsewhere = await api(galaxy, "GET", `/api/executions/${execution.id}`, { token: stranger.token });
    expect(elsewhere.status).toBe(404);
    expect(await fromMemory(galaxy)).toBe(before + 1);
  });

  test("a running execution is read from the worker every time, so its end is seen", async ({ galaxy, workspace, activeAgent, start, get, ended }) => {
    await galaxy.devModel.control({ latencyMs: 1_500 });
    const { token } = await workspace();
    const execution = await start(token, (await activeAgent(token)).id);
    await eventually(async () => ((await get(token, execution.id)).status === "running" ? true : undefined), 10_000, "the execution to run");
    const before = await fromMemory(galaxy);
    expect((await get(token, execution.id)).status).toBe("running");
    expect(await fromMemory(galaxy)).toBe(before);
    expect((await ended(token, execution.id)).status).toBe("completed");
    expect((await get(token, execution.id)).status).toBe("completed");
    expect(await fromMemory(galaxy)).toBe(before + 1);
  });
});
