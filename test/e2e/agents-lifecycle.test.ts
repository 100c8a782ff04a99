import { describe, expect } from "vitest";
import { z } from "zod";
import { Agent, AgentVersion, AuditEntry, Execution, Pagination, SavedAgent, SignupResult, LoginResult } from "@galaxy/contracts";
import { sql } from "@galaxy/db";
import { galaxyTest, PASSWORD, startGalaxyFirst } from "./fixtures";
import { api, dataOf, eventually, type ApiResponse } from "./harness";

const agentBody = { name: "Support bot", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "You answer support questions." };
const ErrorCode = z.object({ code: z.string() });
const VersionPage = z.object({ data: z.array(AgentVersion), pagination: Pagination });
const AgentPage = z.object({ data: z.array(Agent), pagination: Pagination });

const code = (response: ApiResponse) => ErrorCode.parse(response.body).code;

/**
 * - `signup`: signs a user up, with a workspace named after the email;
 * - `join`: adds a user to the owner's workspace with `role` and answers their token there;
 * - `create`: creates an agent (the support bot unless told);
 * - `projected`: waits until the execution worker's projection shows the agent as the registry
 *   does: the registry answers first, and the worker follows its events within moments;
 * - `finished`: waits for an execution to complete or fail.
 */
const base = galaxyTest()
  .extend("signup", { scope: "file" }, async ({ signUp }) => (email: string): Promise<SignupResult> => signUp(email, email))
  .extend("join", { scope: "file" }, async ({ galaxy, signup }) => async (owner: SignupResult, email: string, role: "admin" | "member" | "viewer"): Promise<{ token: string; userId: string }> => {
    const user = await signup(email);
    expect((await api(galaxy, "POST", "/api/members", { token: owner.accessToken, body: { email, role } })).status).toBe(201);
    const login = dataOf(LoginResult, await api(galaxy, "POST", "/api/auth/login", { body: { email, password: PASSWORD, workspaceId: owner.workspace.id } }));
    return { token: login.accessToken, userId: user.user.id };
  })
  .extend("create", { scope: "file" }, async ({ galaxy }) => async (token: string, body: Record<string, unknown> = agentBody): Promise<Agent> =>
    dataOf(Agent, await api(galaxy, "POST", "/api/agents", { token, body })))
  .extend("projected", { scope: "file" }, async ({ superuser }) => async (agentId: string, expected: { status?: string; version?: number; deleted?: boolean }): Promise<void> => {
    await eventually(
      async () => {
        const rows = await sql<{ status: string; current_version: number; deleted: boolean }>`
          select status, current_version, deleted from execution.agents where agent_id = ${agentId}`.execute(superuser);
        const row = rows.rows[0];
        if (!row) return undefined;
        if (expected.status !== undefined && row.status !== expected.status) return undefined;
        if (expected.version !== undefined && row.current_version !== expected.version) return undefined;
        if (expected.deleted !== undefined && row.deleted !== expected.deleted) return undefined;
        return true;
      },
      10_000,
      `the worker's projection of ${agentId} to show ${JSON.stringify(expected)}`,
    );
  })
  .extend("finished", { scope: "file" }, async ({ galaxy }) => (token: string, executionId: string): Promise<Execution> =>
    eventually(async () => {
      const execution = dataOf(Execution, await api(galaxy, "GET", `/api/executions/${executionId}`, { token }));
      return execution.status === "completed" || execution.status === "failed" ? execution : undefined;
    }, 15_000, `execution ${executionId} to finish`));

/** Set up before the first test: the owner's workspace, with a member, a viewer and an admin. */
const test = base
  .extend("owner", { scope: "file", auto: true }, async ({ signup }) => signup("owner@lifecycle.example"))
  .extend("member", { scope: "file", auto: true }, async ({ join, owner }) => join(owner, "member@lifecycle.example", "member"))
  .extend("viewer", { scope: "file", auto: true }, async ({ join, owner }) => join(owner, "viewer@lifecycle.example", "viewer"))
  .extend("admin", { scope: "file", auto: true }, async ({ join, owner }) => join(owner, "admin@lifecycle.example", "admin"));
startGalaxyFirst(test);

describe("agent lifecycle", () => {
  test("a config change makes a new immutable version; a change to nothing makes none", async ({ galaxy, create, owner, viewer }) => {
    const agent = await create(owner.accessToken, { ...agentBody, inputSchema: { type: "object", properties: { message: { type: "string" } }, required: ["message"] } });
    expect(agent.version).toBe(1);

    const patched = await api(galaxy, "PATCH", `/api/agents/${agent.id}`, { token: owner.accessToken, body: { systemPrompt: "Be brief.", temperature: 0.3 } });
    expect(patched.status).toBe(200);
    const v2 = dataOf(SavedAgent, patched);
    expect(v2).toMatchObject({ id: agent.id, version: 2, systemPrompt: "Be brief.", temperature: 0.3, name: agentBody.name, status: "draft" });
    expect(v2.notifySecret).toBeUndefined();

    // The same values again (the schema's keys in another order, as Postgres keeps them): no new version.
    const same = await api(galaxy, "PATCH", `/api/agents/${agent.id}`, {
      token: owner.accessToken,
      body: { systemPrompt: "Be brief.", inputSchema: { required: ["message"], properties: { message: { type: "string" } }, type: "object" } },
    });
    expect(dataOf(Agent, same).version).toBe(2);
    expect(dataOf(Agent, await api(galaxy, "PATCH", `/api/agents/${agent.id}`, { token: owner.accessToken, body: {} })).version).toBe(2);

    // `null` clears an optional part: a change, so version 3.
    const cleared = dataOf(Agent, await api(galaxy, "PATCH", `/api/agents/${agent.id}`, { token: owner.accessToken, body: { temperature: null, name: "Renamed bot" } }));
    expect(cleared).toMatchObject({ version: 3, temperature: null, name: "Renamed bot" });
    expect(dataOf(Agent, await api(galaxy, "GET", `/api/agents/${agent.id}`, { token: viewer.token }))).toMatchObject({ version: 3, name: "Renamed bot" });

    // Every version stays as it was, newest first, paginated; viewers may read them.
    const all = VersionPage.parse((await api(galaxy, "GET", `/api/agents/${agent.id}/versions`, { token: viewer.token })).body);
    expect(all.pagination).toEqual({ total: 3, limit: 20, offset: 0, hasMore: false });
    expect(all.data.map((v) => v.version)).toEqual([3, 2, 1]);
    expect(all.data[2]?.config).toMatchObject({ systemPrompt: agentBody.systemPrompt, temperature: null, name: agentBody.name });
    expect(all.data[1]?.config).toMatchObject({ systemPrompt: "Be brief.", temperature: 0.3 });
    expect(all.data[0]).toMatchObject({ createdBy: owner.user.id, config: { name: "Renamed bot" } });
    const page = VersionPage.parse((await api(galaxy, "GET", `/api/agents/${agent.id}/versions?limit=1&offset=1`, { token: viewer.token })).body);
    expect(page.data.map((v) => v.version)).toEqual([2]);
    expect(page.pagination).toEqual({ total: 3, limit: 1, offset: 1, hasMore: true });

    // The audit log keeps both configs of the change.
    const entry = await eventually(async () => {
      const response = await api(galaxy, "GET", `/api/audit-logs?action=agent.updated&resourceId=${agent.id}`, { token: owner.accessToken });
      const entries = z.object({ data: z.array(AuditEntry) }).parse(response.body).data;
      return entries.length === 2 ? entries : undefined;
    }, 10_000, "two agent.updated audit entries");
    expect(entry[1]?.changes).toMatchObject({ before: { version: 1, config: { systemPrompt: agentBody.systemPrompt } }, after: { version: 2, config: { systemPrompt: "Be brief." } } });
  });

  test("an update is checked like a create: bad JSON Schema, unknown fields, bad values are 400", async ({ galaxy, create, owner }) => {
    const agent = await create(owner.accessToken);
    const badSchema = await api(galaxy, "PATCH", `/api/agents/${agent.id}`, { token: owner.accessToken, body: { outputSchema: { type: "no-such-type" } } });
    expect(badSchema.status).toBe(400);
    expect(code(badSchema)).toBe("invalid_json_schema");
    expect((await api(galaxy, "PATCH", `/api/agents/${agent.id}`, { token: owner.accessToken, body: { status: "active" } })).status).toBe(400);
    const hot = await api(galaxy, "PATCH", `/api/agents/${agent.id}`, { token: owner.accessToken, body: { temperature: 7 } });
    expect(hot.body).toMatchObject({ code: "validation_failed", message: "The request body is invalid", details: { "body.temperature": expect.any(String) } });
    expect((await api(galaxy, "PATCH", `/api/agents/${agent.id}`, { token: owner.accessToken, body: { name: null } })).status).toBe(400);
    const badId = await api(galaxy, "PATCH", `/api/agents/not-a-uuid`, { token: owner.accessToken, body: {} });
    expect({ status: badId.status, body: badId.body }).toMatchObject({ status: 400, body: { message: "The path's parameters are invalid", details: { "params.id": expect.any(String) } } });
    const badLimit = await api(galaxy, "GET", "/api/agents?limit=abc", { token: owner.accessToken });
    expect(badLimit.body).toMatchObject({ message: "The query string is invalid", details: { "querystring.limit": expect.any(String) } });
    expect(dataOf(Agent, await api(galaxy, "GET", `/api/agents/${agent.id}`, { token: owner.accessToken })).version).toBe(1);
  });

  test("members edit and delete what they created; admins anything; permissions override the role", async ({ galaxy, create, owner, member, viewer, admin }) => {
    const owners = await create(owner.accessToken);
    const members = await create(member.token);
    expect((await api(galaxy, "PATCH", `/api/agents/${owners.id}`, { token: member.token, body: { description: "mine now" } })).status).toBe(403);
    expect((await api(galaxy, "DELETE", `/api/agents/${owners.id}`, { token: member.token })).status).toBe(403);
    expect((await api(galaxy, "PATCH", `/api/agents/${members.id}`, { token: viewer.token, body: { description: "viewer" } })).status).toBe(403);
    expect((await api(galaxy, "PATCH", `/api/agents/${members.id}`, { token: member.token, body: { description: "by its creator" } })).status).toBe(200);
    expect((await api(galaxy, "PATCH", `/api/agents/${members.id}`, { token: admin.token, body: { description: "by an admin" } })).status).toBe(200);

    // agents.edit granted, agents.delete withdrawn: the member edits the owner's agent, and may not delete its own.
    const permissions = { agents: { edit: true, delete: false } };
    expect((await api(galaxy, "PATCH", `/api/members/${member.userId}`, { token: owner.accessToken, body: { permissions } })).status).toBe(200);
    const login = dataOf(LoginResult, await api(galaxy, "POST", "/api/auth/login", { body: { email: "member@lifecycle.example", password: PASSWORD, workspaceId: owner.workspace.id } }));
    expect((await api(galaxy, "PATCH", `/api/agents/${owners.id}`, { token: login.accessToken, body: { description: "by permission" } })).status).toBe(200);
    expect((await api(galaxy, "DELETE", `/api/agents/${members.id}`, { token: login.accessToken })).status).toBe(403);
    expect((await api(galaxy, "PATCH", `/api/members/${member.userId}`, { token: owner.accessToken, body: { permissions: {} } })).status).toBe(200);

    expect((await api(galaxy, "DELETE", `/api/agents/${members.id}`, { token: admin.token })).status).toBe(204);
  });

  test("new executions pin the new version; one queued before the change keeps its own", async ({ galaxy, create, projected, finished, owner, member }) => {
    const agent = await create(owner.accessToken);
    expect((await api(galaxy, "POST", `/api/agents/${agent.id}/activate`, { token: owner.accessToken })).status).toBe(200);
    await projected(agent.id, { status: "active", version: 1 });
    const before = dataOf(Execution, await api(galaxy, "POST", `/api/agents/${agent.id}/executions`, { token: member.token, body: { input: { message: "first" } } }));
    expect(before.agentVersion).toBe(1);

    const v2 = dataOf(Agent, await api(galaxy, "PATCH", `/api/agents/${agent.id}`, { token: owner.accessToken, body: { systemPrompt: "Version two." } }));
    expect(v2).toMatchObject({ version: 2, status: "active" });
    await projected(agent.id, { status: "active", version: 2 });
    const after = dataOf(Execution, await api(galaxy, "POST", `/api/agents/${agent.id}/executions`, { token: member.token, body: { input: { message: "second" } } }));
    expect(after.agentVersion).toBe(2);

    expect(await finished(owner.accessToken, before.id)).toMatchObject({ status: "completed", agentVersion: 1, output: { text: "echo: first" } });
    expect(await finished(owner.accessToken, after.id)).toMatchObject({ status: "completed", agentVersion: 2, output: { text: "echo: second" } });
  });

  test("a paused agent starts nothing (409) until activated again; lists filter by status", async ({ galaxy, create, projected, owner, viewer }) => {
    const agent = await create(owner.accessToken);
    // A draft cannot be paused: it is not running in the first place.
    const draft = await api(galaxy, "POST", `/api/agents/${agent.id}/pause`, { token: owner.accessToken });
    expect(draft.status).toBe(409);
    expect(code(draft)).toBe("agent_not_active");

    expect((await api(galaxy, "POST", `/api/agents/${agent.id}/activate`, { token: owner.accessToken })).status).toBe(200);
    const paused = await api(galaxy, "POST", `/api/agents/${agent.id}/pause`, { token: owner.accessToken });
    expect(paused.status).toBe(200);
    expect(dataOf(Agent, paused)).toMatchObject({ status: "paused", version: 1 });
    expect(dataOf(Agent, await api(galaxy, "POST", `/api/agents/${agent.id}/pause`, { token: owner.accessToken })).status).toBe("paused");
    expect((await api(galaxy, "POST", `/api/agents/${agent.id}/pause`, { token: viewer.token })).status).toBe(403);

    await projected(agent.id, { status: "paused" });
    const refused = await api(galaxy, "POST", `/api/agents/${agent.id}/executions`, { token: owner.accessToken, body: { input: { message: "hi" } } });
    expect(refused.status).toBe(409);
    expect(code(refused)).toBe("agent_not_active");

    const pausedList = AgentPage.parse((await api(galaxy, "GET", "/api/agents?status=paused", { token: viewer.token })).body);
    expect(pausedList.data.map((a) => a.id)).toContain(agent.id);
    expect(pausedList.data.every((a) => a.status === "paused")).toBe(true);
    const activeList = AgentPage.parse((await api(galaxy, "GET", "/api/agents?status=active&limit=100", { token: viewer.token })).body);
    expect(activeList.data.map((a) => a.id)).not.toContain(agent.id);
    expect((await api(galaxy, "GET", "/api/agents?status=deleted", { token: viewer.token })).status).toBe(400);

    expect(dataOf(Agent, await api(galaxy, "POST", `/api/agents/${agent.id}/activate`, { token: owner.accessToken })).status).toBe("active");
    await projected(agent.id, { status: "active" });
    expect((await api(galaxy, "POST", `/api/agents/${agent.id}/executions`, { token: owner.accessToken, body: { input: { message: "again" } } })).status).toBe(202);
  });

  test("a deleted agent is a 404 everywhere: read, list, change, activate, versions, executions", async ({ galaxy, create, projected, finished, owner }) => {
    const agent = await create(owner.accessToken);
    expect((await api(galaxy, "POST", `/api/agents/${agent.id}/activate`, { token: owner.accessToken })).status).toBe(200);
    await projected(agent.id, { status: "active" });
    const running = dataOf(Execution, await api(galaxy, "POST", `/api/agents/${agent.id}/executions`, { token: owner.accessToken, body: { input: { message: "before" } } }));

    const deleted = await api(galaxy, "DELETE", `/api/agents/${agent.id}`, { token: owner.accessToken });
    expect(deleted.status).toBe(204);
    expect(deleted.body).toBeNull();

    for (const [method, path, body] of [
      ["GET", `/api/agents/${agent.id}`, undefined],
      ["PATCH", `/api/agents/${agent.id}`, { description: "gone" }],
      ["DELETE", `/api/agents/${agent.id}`, undefined],
      ["POST", `/api/agents/${agent.id}/activate`, undefined],
      ["POST", `/api/agents/${agent.id}/pause`, undefined],
      ["GET", `/api/agents/${agent.id}/versions`, undefined],
    ] as const) {
      const response = await api(galaxy, method, path, { token: owner.accessToken, ...(body ? { body } : {}) });
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(code(response)).toBe("agent_not_found");
    }
    const listed = AgentPage.parse((await api(galaxy, "GET", "/api/agents?limit=100", { token: owner.accessToken })).body);
    expect(listed.data.map((a) => a.id)).not.toContain(agent.id);

    await projected(agent.id, { deleted: true });
    const start = await api(galaxy, "POST", `/api/agents/${agent.id}/executions`, { token: owner.accessToken, body: { input: { message: "after" } } });
    expect(start.status).toBe(404);
    expect(code(start)).toBe("agent_not_found");
    // Its executions are not listed either, by either path (the worker's projection marks it deleted).
    for (const path of [`/api/agents/${agent.id}/executions`, `/api/executions?agentId=${agent.id}`]) {
      const listedExecutions = await api(galaxy, "GET", path, { token: owner.accessToken });
      expect(listedExecutions.status, path).toBe(404);
      expect(code(listedExecutions)).toBe("agent_not_found");
    }
    // What ran before the deletion keeps its record.
    expect((await finished(owner.accessToken, running.id)).agentVersion).toBe(1);
  });

  test("another workspace's agent is a 404 for every change, and the attempt is reported", async ({ galaxy, signup, create, owner }) => {
    const agent = await create(owner.accessToken);
    const outsider = await signup("outsider@lifecycle.example");
    for (const [method, path, body] of [
      ["PATCH", `/api/agents/${agent.id}`, { description: "theirs" }],
      ["DELETE", `/api/agents/${agent.id}`, undefined],
      ["POST", `/api/agents/${agent.id}/pause`, undefined],
      ["GET", `/api/agents/${agent.id}/versions`, undefined],
    ] as const) {
      expect((await api(galaxy, method, path, { token: outsider.accessToken, ...(body ? { body } : {}) })).status, `${method} ${path}`).toBe(404);
    }
    const reports = await eventually(async () => {
      const response = await api(galaxy, "GET", `/api/audit-logs?action=security.cross_workspace_attempt&resourceId=${agent.id}`, { token: outsider.accessToken });
      const entries = z.object({ data: z.array(AuditEntry) }).parse(response.body).data;
      return entries.length === 4 ? entries : undefined;
    }, 10_000, "four cross-workspace reports");
    expect(reports.every((entry) => entry.workspaceId === outsider.workspace.id)).toBe(true);
    expect(dataOf(Agent, await api(galaxy, "GET", `/api/agents/${agent.id}`, { token: owner.accessToken })).version).toBe(1);
  });

  test("listing another workspace's agent's executions is a 404, and the attempt is reported", async ({ galaxy, signup, create, projected, owner }) => {
    const agent = await create(owner.accessToken);
    await projected(agent.id, {});
    const outsider = await signup("lister@lifecycle.example");
    const response = await api(galaxy, "GET", `/api/executions?agentId=${agent.id}`, { token: outsider.accessToken });
    expect(response.status).toBe(404);
    expect(code(response)).toBe("agent_not_found");
    const reports = await eventually(async () => {
      const listed = await api(galaxy, "GET", `/api/audit-logs?action=security.cross_workspace_attempt&resourceId=${agent.id}`, { token: outsider.accessToken });
      const entries = z.object({ data: z.array(AuditEntry) }).parse(listed.body).data;
      return entries.length === 1 ? entries : undefined;
    }, 10_000, "the cross-workspace report");
    expect(reports[0]?.workspaceId).toBe(outsider.workspace.id);
    // The owner's own list of it is answered.
    expect((await api(galaxy, "GET", `/api/executions?agentId=${agent.id}`, { token: owner.accessToken })).status).toBe(200);
  });
});
