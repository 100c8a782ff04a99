import { describe, expect } from "vitest";
import { createLocalJWKSet, jwtVerify } from "jose";
import type { Msg } from "@nats-io/transport-node";
import { Agent, AuditEntry, CLAIM_AUDIENCE, CLAIM_ISSUER, CLAIM_TYP, Execution, HEADER, Jwks, SignupResult, WorkspaceClaim } from "@galaxy/contracts";
import { z } from "zod";
import { incomingTraceparent } from "@galaxy/testkit";
import { galaxyTest, startGalaxyFirst } from "./fixtures";
import { api, dataOf, eventually, type ApiResponse } from "./harness";

/** `seen`: every event on the bus, watched from before the first test. */
const test = galaxyTest()
  .extend("seen", { scope: "file", auto: true }, async ({ galaxy }) => {
    const seen: Msg[] = [];
    galaxy.observer.watch("evt.>", (msg) => void seen.push(msg));
    return seen;
  })
  /**
   * A request from a traced client: it sends a `traceparent` of its own. No tracing runs in
   * this process, so the trace passes through Galaxy unchanged (docs/operations.md, "Tracing").
   */
  .extend("traced", { scope: "file" }, async ({ galaxy }) => (method: string, path: string, options: { token?: string; body?: unknown } = {}): Promise<ApiResponse> =>
    api(galaxy, method, path, { ...options, headers: { traceparent: incomingTraceparent() } }));
startGalaxyFirst(test);

describe("the README walk-through, through the gateway", () => {
  let token = "";
  let workspaceId = "";
  let agentId = "";
  let executionId = "";

  test("sign up", async ({ traced }) => {
    const response = await traced("POST", "/api/auth/signup", { body: { email: "ada@example.com", password: "correct horse battery", name: "Ada", workspaceName: "Engines" } });
    expect(response.status).toBe(201);
    const result = dataOf(SignupResult, response);
    token = result.accessToken;
    workspaceId = result.workspace.id;
    expect(response.headers.get("x-request-id")).toBeTruthy();
    expect(response.headers.get("traceparent")).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  test("create an agent with provider openai and model galaxy-dev-echo, then activate it", async ({ traced }) => {
    const created = await traced("POST", "/api/agents", { token, body: { name: "Echo", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "Repeat after me." } });
    expect(created.status).toBe(201);
    const agent = dataOf(Agent, created);
    expect(agent).toMatchObject({ status: "draft", version: 1, workspaceId });
    agentId = agent.id;

    const activated = await traced("POST", `/api/agents/${agentId}/activate`, { token });
    expect(activated.status).toBe(200);
    expect(dataOf(Agent, activated).status).toBe("active");
  });

  test("start an execution: 202, queued and readable at once", async ({ galaxy, traced }) => {
    const started = await traced("POST", `/api/agents/${agentId}/executions`, { token, body: { input: { message: "hello" } } });
    expect(started.status).toBe(202);
    const execution = dataOf(Execution, started);
    expect(execution.status).toBe("queued");
    executionId = execution.id;
    const read = await api(galaxy, "GET", `/api/executions/${executionId}`, { token });
    expect(read.status).toBe(200);
  });

  test("the execution completes with the echo and its token usage", async ({ galaxy }) => {
    const done = await eventually(async () => {
      const execution = dataOf(Execution, await api(galaxy, "GET", `/api/executions/${executionId}`, { token }));
      return execution.status === "completed" || execution.status === "failed" ? execution : undefined;
    }, 15_000, "the execution to finish");
    expect(done.status).toBe("completed");
    expect(done.output?.text).toBe("echo: hello");
    expect(done.usage.inputTokens).toBeGreaterThan(0);
    expect(done.usage.outputTokens).toBeGreaterThan(0);
    expect(done.usage.totalTokens).toBe(done.usage.inputTokens + done.usage.outputTokens);
    expect(done.agentVersion).toBe(1);
  });

  test("the audit log lists agent.created and execution.completed for the workspace", async ({ galaxy }) => {
    const entries = await eventually(async () => {
      const response = await api(galaxy, "GET", "/api/audit-logs?limit=100", { token });
      const list = z.object({ data: z.array(AuditEntry) }).parse(response.body).data;
      const actions = list.map((e) => e.action);
      return actions.includes("agent.created") && actions.includes("execution.completed") ? list : undefined;
    }, 15_000, "audit entries");
    expect(entries.every((e) => e.workspaceId === workspaceId)).toBe(true);
    const seqs = entries.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
    const first = entries.find((e) => e.seq === 1);
    expect(first?.prevHash).toBe("0".repeat(64));
  });

  test("every event on the bus carries the headers of docs/bus.md and a claim that verifies", async ({ galaxy, seen }) => {
    const jwks = Jwks.parse((await api(galaxy, "GET", "/.well-known/jwks.json")).body);
    const keySet = createLocalJWKSet({ keys: jwks.keys.map((k) => ({ ...k })) });
    const types = new Set<string>();
    expect(seen.length).toBeGreaterThanOrEqual(7);
    for (const msg of seen) {
      const subject = galaxy.observer.unprefixed(msg.subject);
      const subjectWs = subject.split(".")[1];
      const headerWs = msg.headers?.get(HEADER.workspaceId);
      expect(headerWs, subject).toBe(subjectWs);
      expect(msg.headers?.get(HEADER.msgId), subject).toMatch(/^[0-9a-f-]{36}$/);
      expect(msg.headers?.get(HEADER.traceparent), subject).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/);
      const claimToken = msg.headers?.get(HEADER.claim) ?? "";
      const { payload } = await jwtVerify(claimToken, keySet, { algorithms: ["EdDSA"], issuer: CLAIM_ISSUER, audience: CLAIM_AUDIENCE, typ: CLAIM_TYP, currentDate: new Date(0) });
      expect(WorkspaceClaim.parse(payload).ws, subject).toBe(headerWs);
      const envelope = z.object({ id: z.string(), type: z.string(), workspaceId: z.string() }).parse(JSON.parse(new TextDecoder().decode(msg.data)));
      expect(envelope.id).toBe(msg.headers?.get(HEADER.msgId));
      expect(envelope.workspaceId).toBe(headerWs);
      types.add(envelope.type);
    }
    expect([...types]).toEqual(expect.arrayContaining(["workspace.created", "member.added", "agent.created", "agent.activated", "execution.queued", "execution.started", "execution.completed"]));
  });

  test("one trace runs from the gateway request to the execution's events", async ({ seen }) => {
    const forExecution = seen.filter((msg) => msg.subject.endsWith("execution.queued") || msg.subject.endsWith("execution.completed"));
    const traceIds = new Set(forExecution.map((msg) => msg.headers?.get(HEADER.traceparent)?.split("-")[1]));
    expect(forExecution.length).toBeGreaterThanOrEqual(2);
    expect(traceIds.size).toBe(1);
  });
});
