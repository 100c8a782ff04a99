import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { z } from "zod";
import { Agent, ErrorBody, Execution, SignupResult } from "@galaxy/contracts";
import { api, dataOf, eventually, startGalaxy, type Galaxy } from "./harness";

let galaxy: Galaxy;
let alice: SignupResult;
let bob: SignupResult;
let aliceAgent: Agent;
let aliceExecution: Execution;

const signup = async (email: string) =>
  dataOf(SignupResult, await api(galaxy, "POST", "/api/auth/signup", { body: { email, password: "correct horse battery", name: email, workspaceName: email.split("@")[0] } }));

beforeAll(async () => {
  galaxy = await startGalaxy(inject("engines"));
  alice = await signup("alice@example.com");
  bob = await signup("bob@example.com");
  aliceAgent = dataOf(Agent, await api(galaxy, "POST", "/api/agents", { token: alice.accessToken, body: { name: "Private", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "" } }));
  await api(galaxy, "POST", `/api/agents/${aliceAgent.id}/activate`, { token: alice.accessToken });
  aliceExecution = dataOf(Execution, await api(galaxy, "POST", `/api/agents/${aliceAgent.id}/executions`, { token: alice.accessToken, body: { input: { message: "secret" } } }));
});

afterAll(async () => {
  await galaxy?.stop();
});

const errorOf = (body: unknown) => ErrorBody.parse(body);

describe("another workspace's resources do not exist for the caller", () => {
  test("reading, activating or running another workspace's agent is a 404", async () => {
    for (const [method, path] of [
      ["GET", `/api/agents/${aliceAgent.id}`],
      ["POST", `/api/agents/${aliceAgent.id}/activate`],
    ] as const) {
      const response = await api(galaxy, method, path, { token: bob.accessToken });
      expect(response.status, path).toBe(404);
      expect(errorOf(response.body).code).toBe("agent_not_found");
    }
    const run = await api(galaxy, "POST", `/api/agents/${aliceAgent.id}/executions`, { token: bob.accessToken, body: { input: {} } });
    expect(run.status).toBe(404);
  });

  test("reading another workspace's execution is a 404", async () => {
    const response = await api(galaxy, "GET", `/api/executions/${aliceExecution.id}`, { token: bob.accessToken });
    expect(response.status).toBe(404);
    expect(errorOf(response.body).code).toBe("execution_not_found");
  });

  test("lists and the audit log show only the caller's workspace", async () => {
    const agents = z.object({ data: z.array(Agent) }).parse((await api(galaxy, "GET", "/api/agents", { token: bob.accessToken })).body).data;
    expect(agents).toEqual([]);
    await eventually(async () => {
      const entries = z.object({ data: z.array(z.object({ workspaceId: z.string(), action: z.string() })) }).parse((await api(galaxy, "GET", "/api/audit-logs", { token: bob.accessToken })).body).data;
      return entries.length >= 2 ? entries : undefined;
    }, 10_000, "bob's own audit entries").then((entries) => expect(entries.every((e) => e.workspaceId === bob.workspace.id)).toBe(true));
  });
});

describe("bad input is a 4xx, never a 500", () => {
  test("a NUL character Postgres cannot store is a 400", async () => {
    const agent = await api(galaxy, "POST", "/api/agents", { token: alice.accessToken, body: { name: "nul\u0000name", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "" } });
    expect(agent.status).toBe(400);
    const run = await api(galaxy, "POST", `/api/agents/${aliceAgent.id}/executions`, { token: alice.accessToken, body: { input: { message: "a\u0000b" } } });
    expect(run.status).toBe(400);
  });

  test("a time Postgres cannot hold is a 400", async () => {
    const response = await api(galaxy, "GET", "/api/audit-logs?since=0000-01-01T00:00:00Z", { token: alice.accessToken });
    expect(response.status).toBe(400);
  });

  test("an expired or foreign token is a 401", async () => {
    const response = await api(galaxy, "GET", "/api/agents", { token: `${alice.accessToken.slice(0, -4)}AAAA` });
    expect(response.status).toBe(401);
  });
});

describe("Idempotency-Key on a real create", () => {
  test("repeating a create with the same key returns the same agent and makes one", async () => {
    const body = { name: "Once", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "" };
    const headers = { "idempotency-key": "create-once" };
    const first = dataOf(Agent, await api(galaxy, "POST", "/api/agents", { token: alice.accessToken, body, headers }));
    const again = await api(galaxy, "POST", "/api/agents", { token: alice.accessToken, body, headers });
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(dataOf(Agent, again).id).toBe(first.id);
    const named = z.object({ data: z.array(Agent) }).parse((await api(galaxy, "GET", "/api/agents?limit=100", { token: alice.accessToken })).body).data.filter((a) => a.name === "Once");
    expect(named).toHaveLength(1);
  });
});
