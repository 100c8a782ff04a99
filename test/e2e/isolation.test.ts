import { describe, expect } from "vitest";
import { z } from "zod";
import { Agent, ErrorBody, Execution } from "@galaxy/contracts";
import { galaxyTest, startGalaxyFirst } from "./fixtures";
import { api, dataOf, eventually } from "./harness";

/** Set up before the first test: Alice's workspace, with an active agent and an execution of it; Bob's, with nothing. */
const test = galaxyTest()
  .extend("alice", { scope: "file", auto: true }, async ({ signUp }) => signUp("alice@example.com"))
  .extend("bob", { scope: "file", auto: true }, async ({ signUp }) => signUp("bob@example.com"))
  .extend("aliceAgent", { scope: "file", auto: true }, async ({ galaxy, alice }) => {
    const agent = dataOf(Agent, await api(galaxy, "POST", "/api/agents", { token: alice.accessToken, body: { name: "Private", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "" } }));
    await api(galaxy, "POST", `/api/agents/${agent.id}/activate`, { token: alice.accessToken });
    return agent;
  })
  .extend("aliceExecution", { scope: "file", auto: true }, async ({ galaxy, alice, aliceAgent }) =>
    dataOf(Execution, await api(galaxy, "POST", `/api/agents/${aliceAgent.id}/executions`, { token: alice.accessToken, body: { input: { message: "secret" } } })));
startGalaxyFirst(test);

const errorOf = (body: unknown) => ErrorBody.parse(body);

describe("another workspace's resources do not exist for the caller", () => {
  test("reading, activating or running another workspace's agent is a 404", async ({ galaxy, bob, aliceAgent }) => {
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

  test("reading another workspace's execution is a 404", async ({ galaxy, bob, aliceExecution }) => {
    const response = await api(galaxy, "GET", `/api/executions/${aliceExecution.id}`, { token: bob.accessToken });
    expect(response.status).toBe(404);
    expect(errorOf(response.body).code).toBe("execution_not_found");
  });

  test("lists and the audit log show only the caller's workspace", async ({ galaxy, bob }) => {
    const agents = z.object({ data: z.array(Agent) }).parse((await api(galaxy, "GET", "/api/agents", { token: bob.accessToken })).body).data;
    expect(agents).toEqual([]);
    await eventually(async () => {
      const entries = z.object({ data: z.array(z.object({ workspaceId: z.string(), action: z.string() })) }).parse((await api(galaxy, "GET", "/api/audit-logs", { token: bob.accessToken })).body).data;
      return entries.length >= 2 ? entries : undefined;
    }, 10_000, "bob's own audit entries").then((entries) => expect(entries.every((e) => e.workspaceId === bob.workspace.id)).toBe(true));
  });
});

describe("bad input is a 4xx, never a 500", () => {
  test("a NUL character Postgres cannot store is a 400", async ({ galaxy, alice, aliceAgent }) => {
    const agent = await api(galaxy, "POST", "/api/agents", { token: alice.accessToken, body: { name: "nul\u0000name", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "" } });
    expect(agent.status).toBe(400);
    const run = await api(galaxy, "POST", `/api/agents/${aliceAgent.id}/executions`, { token: alice.accessToken, body: { input: { message: "a\u0000b" } } });
    expect(run.status).toBe(400);
  });

  test("a time Postgres cannot hold is a 400", async ({ galaxy, alice }) => {
    const response = await api(galaxy, "GET", "/api/audit-logs?since=0000-01-01T00:00:00Z", { token: alice.accessToken });
    expect(response.status).toBe(400);
  });

  test("an expired or foreign token is a 401", async ({ galaxy, alice }) => {
    const response = await api(galaxy, "GET", "/api/agents", { token: `${alice.accessToken.slice(0, -4)}AAAA` });
    expect(response.status).toBe(401);
  });
});

describe("Idempotency-Key on a real create", () => {
  test("repeating a create with the same key returns the same agent and makes one", async ({ galaxy, alice }) => {
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
