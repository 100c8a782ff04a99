import { describe, expect } from "vitest";
import { headers as natsHeaders, type Msg } from "@nats-io/transport-node";
import { randomUUID as uuidv7 } from "node:crypto";
import { z } from "zod";
import { Agent, AuditEntry, ClaimGrant, CreatedApiKey, ErrorBody, Execution, HEADER, type AuditLogQuery } from "@galaxy/contracts";
import { sql } from "@galaxy/db";
import { TestClaims, incomingTraceparent } from "@galaxy/testkit";
import { AGENT_PROJECTION_CONSUMER } from "@galaxy/execution-worker";
import { galaxyTest, startGalaxyFirst } from "./fixtures";
import { api, dataOf, eventually } from "./harness";

const userAgent = "security-probe/1.0 (e2e)";

/**
 * Set up before the first test: `deadLetters`, every dead letter on the bus from then on;
 * Alice, with an active agent, an execution of it and an API key; Bob, with a workspace of his own.
 * `superuser` (the test database's superuser, which row-level security does not restrict) reads
 * the worker's projection.
 */
const test = galaxyTest()
  .extend("deadLetters", { scope: "file", auto: true }, async ({ galaxy }) => {
    const deadLetters: Msg[] = [];
    galaxy.observer.watch("dlq.>", (msg) => void deadLetters.push(msg));
    await galaxy.observer.flush();
    return deadLetters;
  })
  .extend("alice", { scope: "file", auto: true }, async ({ signUp }) => signUp("alice@example.com"))
  .extend("bob", { scope: "file", auto: true }, async ({ signUp }) => signUp("bob@example.com"))
  .extend("aliceAgent", { scope: "file", auto: true }, async ({ galaxy, alice }) => {
    const aliceAgent = dataOf(Agent, await api(galaxy, "POST", "/api/agents", { token: alice.accessToken, body: { name: "Private", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "" } }));
    await api(galaxy, "POST", `/api/agents/${aliceAgent.id}/activate`, { token: alice.accessToken });
    return aliceAgent;
  })
  .extend("aliceExecution", { scope: "file", auto: true }, async ({ galaxy, alice, aliceAgent }) =>
    dataOf(Execution, await api(galaxy, "POST", `/api/agents/${aliceAgent.id}/executions`, { token: alice.accessToken, body: { input: { message: "secret" } } })))
  .extend("aliceKey", { scope: "file", auto: true }, async ({ galaxy, alice }) =>
    dataOf(CreatedApiKey, await api(galaxy, "POST", "/api/api-keys", { token: alice.accessToken, body: { name: "alice's deploy key", role: "member" } })))
  /** The caller's audit entries matching `query`, newest first. */
  .extend("auditLog", { scope: "file" }, async ({ galaxy }) => async (token: string, query: AuditLogQuery & { limit?: number }): Promise<AuditEntry[]> => {
    const params = new URLSearchParams(Object.entries({ limit: 100, ...query }).map(([k, v]): [string, string] => [k, String(v)]));
    const response = await api(galaxy, "GET", `/api/audit-logs?${params.toString()}`, { token });
    expect(response.status).toBe(200);
    return z.object({ data: z.array(AuditEntry) }).parse(response.body).data;
  })
  /**
   * Publishes a valid `agent.created` payload for Bob's workspace on its subject, with `claim`
   * (or none), the way a stranger with a NATS connection would. Returns the payload's id and
   * the id of the agent it plants.
   */
  .extend("publishRaw", { scope: "file" }, async ({ galaxy, bob, aliceAgent }) => async (claim: string | undefined): Promise<{ id: string; agentId: string }> => {
    const ws = bob.workspace.id;
    const id = uuidv7();
    const agentId = uuidv7();
    const now = new Date().toISOString();
    const agent: Agent = {
      ...aliceAgent,
      id: agentId,
      workspaceId: ws,
      name: "Planted",
      status: "draft",
      version: 1,
      createdBy: bob.user.id,
      createdAt: now,
      updatedAt: now,
    };
    const payload = { id, type: "agent.created", occurredAt: now, workspaceId: ws, actor: { type: "user", id: bob.user.id }, data: { agent } };
    const h = natsHeaders();
    h.set(HEADER.workspaceId, ws);
    if (claim) h.set(HEADER.claim, claim);
    h.set(HEADER.msgId, id);
    h.set(HEADER.traceparent, incomingTraceparent());
    h.set(HEADER.correlationId, id);
    h.set(HEADER.causationId, id);
    h.set(HEADER.eventType, "agent.created");
    h.set(HEADER.schemaVersion, "1");
    // A request to a stream's subject is answered with JetStream's acknowledgement: stored.
    const ack = await galaxy.observer.rawRequest(galaxy.observer.subject(`evt.${ws}.agent.created`), JSON.stringify(payload), { headers: h, timeoutMs: 5_000 });
    expect(z.object({ seq: z.number() }).parse(JSON.parse(new TextDecoder().decode(ack.data))).seq).toBeGreaterThan(0);
    return { id, agentId };
  });

/** What a 404 said, with the id it named replaced, so two answers compare. */
function notFoundBody(response: { status: number; body: unknown }, id: string): string {
  expect(response.status).toBe(404);
  return JSON.stringify(ErrorBody.parse(response.body)).replaceAll(id, "<id>");
}

describe("asking for another workspace's resource by id", () => {
  test("answers the 404 of a missing id, and only the foreign id lands in the caller's audit log as security.cross_workspace_attempt", async ({ galaxy, alice, bob, aliceAgent, aliceExecution, aliceKey, auditLog }) => {
    const headers = { "user-agent": userAgent };
    const probes = [
      { method: "GET", path: (id: string) => `/api/agents/${id}`, target: aliceAgent.id, targetType: "agent" },
      { method: "POST", path: (id: string) => `/api/agents/${id}/activate`, target: aliceAgent.id, targetType: "agent" },
      { method: "POST", path: (id: string) => `/api/agents/${id}/executions`, target: aliceAgent.id, targetType: "agent", body: { input: { message: "hi" } } },
      { method: "GET", path: (id: string) => `/api/executions/${id}`, target: aliceExecution.id, targetType: "execution" },
      { method: "GET", path: (id: string) => `/api/executions/${id}/deliveries`, target: aliceExecution.id, targetType: "execution" },
      { method: "GET", path: (id: string) => `/api/agents/${id}/versions`, target: aliceAgent.id, targetType: "agent" },
      // Alice is a member of her workspace alone: to Bob's workspace she is another workspace's member.
      { method: "PATCH", path: (id: string) => `/api/members/${id}`, target: alice.user.id, targetType: "member", body: { role: "viewer" } },
      { method: "DELETE", path: (id: string) => `/api/members/${id}`, target: alice.user.id, targetType: "member" },
      { method: "DELETE", path: (id: string) => `/api/api-keys/${id}`, target: aliceKey.id, targetType: "api_key" },
    ] as const;
    for (const probe of probes) {
      const body = "body" in probe ? probe.body : undefined;
      const randomId = uuidv7();
      const foreign = await api(galaxy, probe.method, probe.path(probe.target), { token: bob.accessToken, headers, ...(body ? { body } : {}) });
      const missing = await api(galaxy, probe.method, probe.path(randomId), { token: bob.accessToken, headers, ...(body ? { body } : {}) });
      expect(notFoundBody(foreign, probe.target), probe.path("…")).toBe(notFoundBody(missing, randomId));
    }

    const entries = await eventually(async () => {
      const found = await auditLog(bob.accessToken, { action: "security.cross_workspace_attempt" });
      return found.length >= probes.length ? found : undefined;
    }, 10_000, "bob's cross-workspace entries");
    await new Promise((resolve) => setTimeout(resolve, 300));
    const settled = await auditLog(bob.accessToken, { action: "security.cross_workspace_attempt" });
    // One entry per probe of a foreign id; none for the random ids.
    expect(settled).toHaveLength(probes.length);
    expect(entries.map((e) => `${e.resourceType}:${e.resourceId}`).sort()).toEqual(probes.map((p) => `${p.targetType}:${p.target}`).sort());
    for (const entry of settled) {
      expect(entry.workspaceId).toBe(bob.workspace.id);
      expect(entry.actor).toEqual({ type: "user", id: bob.user.id });
      expect(entry.ipAddress).toMatch(/127\.0\.0\.1|::1/);
      expect(entry.userAgent).toBe(userAgent);
    }
    // Filtered by target, as an admin investigating would.
    expect(await auditLog(bob.accessToken, { resourceId: aliceExecution.id })).toHaveLength(2);
    // Nothing in the workspace whose resources were asked for, and nothing changed there.
    expect(await auditLog(alice.accessToken, { action: "security.cross_workspace_attempt" })).toEqual([]);
    const me = z.object({ data: z.object({ role: z.string() }) }).parse((await api(galaxy, "GET", "/api/me", { token: alice.accessToken })).body).data;
    expect(me.role).toBe("owner");
    const keys = z.object({ data: z.array(z.object({ id: z.string(), revokedAt: z.string().nullable() })) }).parse((await api(galaxy, "GET", "/api/api-keys", { token: alice.accessToken })).body).data;
    expect(keys.find((k) => k.id === aliceKey.id)).toMatchObject({ revokedAt: null });
  });
});

describe("the bus attack suite: messages published straight to NATS", () => {
  test("a foreign key's claim, another workspace's claim, no claim: none applied, each a dead letter and a security incident in the workspace it named", async ({ galaxy, superuser, deadLetters, alice, bob, aliceAgent, auditLog, publishRaw }) => {
    const foreignKey = await (await TestClaims.create()).sign({ ws: bob.workspace.id, sub: bob.user.id, role: "owner" });
    // A genuine claim, signed by identity, for Alice's workspace.
    const grant = ClaimGrant.parse(await galaxy.observer.request("identity.claims.issue", { accessToken: alice.accessToken }));
    const planted = {
      foreignKey: await publishRaw(foreignKey),
      otherWorkspace: await publishRaw(grant.claim),
      noClaim: await publishRaw(undefined),
    };
    const attacks = { foreignKey: planted.foreignKey.id, otherWorkspace: planted.otherWorkspace.id, noClaim: planted.noClaim.id };
    const ids = Object.values(attacks);
    const agentIds = Object.values(planted).map((p) => p.agentId);

    // Each is reported by both consumers that refused it: audit and the worker's agent projection.
    const incidents = await eventually(async () => {
      const found = (await auditLog(bob.accessToken, { action: "security.forged_message" })).filter((e) => e.resourceId !== null && ids.includes(e.resourceId));
      return found.length >= ids.length * 2 ? found : undefined;
    }, 15_000, "the forged-message incidents in bob's audit log");
    for (const id of ids) {
      const about = incidents.filter((e) => e.resourceId === id);
      expect(about.map((e) => e.actor).sort((a, b) => a.id.localeCompare(b.id))).toEqual([
        { type: "service", id: "audit" },
        { type: "service", id: "execution-worker" },
      ]);
      expect(about.every((e) => e.workspaceId === bob.workspace.id && e.resourceType === "message")).toBe(true);
    }

    // Each is a dead letter of both consumers that refused it. Once the worker's letters are
    // written, its projection has settled on these messages (a letter is written instead of an apply).
    const letterIdsOf = (consumer: string) =>
      deadLetters
        .filter((m) => m.subject === galaxy.observer.subject(`dlq.${consumer}.evt.${bob.workspace.id}.agent.created`))
        .map((m) => z.object({ id: z.string() }).parse(JSON.parse(new TextDecoder().decode(m.data))).id);
startGalaxyFirst(test);
    await eventually(async () => (ids.every((id) => letterIdsOf("audit").includes(id) && letterIdsOf(AGENT_PROJECTION_CONSUMER).includes(id)) ? true : undefined), 15_000, "the dead letters of audit and the worker's agent projection");

    // None was applied: no audit entry is any of them, and no planted agent is in the worker's
    // projection (the only consumer of agent.created that would keep one), read past row-level security.
    const everything = await auditLog(bob.accessToken, {});
    expect(everything.filter((e) => ids.includes(e.id))).toEqual([]);
    expect(everything.filter((e) => e.action === "agent.created")).toEqual([]);
    const projected = async (agentIdList: string[]) =>
      (await sql<{ agent_id: string }>`select agent_id from execution.agents where agent_id = any(${agentIdList}::uuid[])`.execute(superuser)).rows.map((r) => r.agent_id);
    // The query sees what the worker applied: Alice's genuine agent is there.
    expect(await projected([aliceAgent.id])).toEqual([aliceAgent.id]);
    expect(await projected(agentIds)).toEqual([]);
    expect((await sql<{ n: number }>`select count(*)::int as n from execution.agents where workspace_id = ${bob.workspace.id}`.execute(superuser)).rows[0]?.n).toBe(0);

    // Each is a dead letter of the audit consumer, with why.
    const audited = deadLetters.filter((m) => m.subject === galaxy.observer.subject(`dlq.audit.evt.${bob.workspace.id}.agent.created`));
    const letterOf = (id: string) => audited.find((m) => (JSON.parse(new TextDecoder().decode(m.data)) as { id?: unknown }).id === id);
    expect(letterOf(attacks.foreignKey)?.headers?.get(HEADER.dlqError)).toMatch(/claim refused/);
    expect(letterOf(attacks.otherWorkspace)?.headers?.get(HEADER.dlqError)).toMatch(/different workspaces/);
    expect(letterOf(attacks.noClaim)?.headers?.get(HEADER.dlqError)).toMatch(/no Gx-Claim header/);

    // Alice's log shows none of it.
    expect(await auditLog(alice.accessToken, { action: "security.forged_message" })).toEqual([]);
  });
});
