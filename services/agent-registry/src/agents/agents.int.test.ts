import { randomUUID } from "node:crypto";
import { describe, expect } from "vitest";
import { v7 as uuidv7 } from "uuid";
import type { EventMessage } from "@galaxy/bus";
import { HEADER, type Agent, type Permissions, type Role } from "@galaxy/contracts";
import { inWorkspace, sql } from "@galaxy/db";
import { incomingTraceparent } from "@galaxy/testkit";
import { publishedTest } from "../../test/support/published-fixtures";

interface Who {
  ws: string;
  sub: string;
  claim: string;
}

const newWorkspace = () => uuidv7();

const body = (name = "Support bot") => ({ name, provider: "openai", model: "galaxy-dev-echo", systemPrompt: "You answer support questions." });

/**
 * On the registry's fixtures (published-fixtures.ts: the registry on the file's `db`, the gateway's
 * `gatewayBus`, the events `published` on the wire), each set up once per file:
 * - `consumed`: what a durable consumer reads from the stream, after the bus verified claim and workspaces;
 * - `principal`: a caller of a workspace with a role (and permissions), its claim signed;
 * - `create`, `get`, `activate`, `list`: the gateway's requests about agents, as a caller;
 * - `outboxEvents`: how many events of a type about one agent the registry's outbox holds (published or not);
 * - `attempts`: the `security.cross_workspace_attempt` events published in a workspace.
 */
const test = publishedTest
  .extend("consumed", { scope: "file" }, async ({ gatewayBus }): Promise<EventMessage[]> => {
    const consumed: EventMessage[] = [];
    await gatewayBus.consume({ durable: "registry_test", filter: "evt.*.agent.>", handler: async (message) => void consumed.push(message) });
    return consumed;
  })
  .extend("principal", { scope: "file" }, async ({ claims }) => async (ws: string, role: Role, perms?: Permissions): Promise<Who> => {
    const sub = randomUUID();
    return { ws, sub, claim: await claims.sign({ ws, sub, role, ...(perms ? { perms } : {}) }) };
  })
  .extend("create", { scope: "file" }, async ({ gatewayBus }) => (who: Who, payload: unknown = body()) => gatewayBus.request("registry.agents.create", payload, { claim: who.claim, workspaceId: who.ws }))
  .extend("get", { scope: "file" }, async ({ gatewayBus }) => (who: Who, id: string) => gatewayBus.request("registry.agents.get", { id }, { claim: who.claim, workspaceId: who.ws }))
  .extend("activate", { scope: "file" }, async ({ gatewayBus }) => (who: Who, id: string) => gatewayBus.request("registry.agents.activate", { id }, { claim: who.claim, workspaceId: who.ws }))
  .extend("list", { scope: "file" }, async ({ gatewayBus }) => (who: Who, query: Record<string, unknown> = {}) => gatewayBus.request("registry.agents.list", query, { claim: who.claim, workspaceId: who.ws }))
  .extend("outboxEvents", { scope: "file" }, async ({ db }) => async (ws: string, type: string, agentId: string): Promise<number> => {
    const rows = await inWorkspace(db, ws, (tx) =>
      tx
        .selectFrom("outbox")
        .select("id")
        .where("type", "=", type)
        .where((eb) => eb.or([eb(sql<string>`payload->'data'->>'agentId'`, "=", agentId), eb(sql<string>`payload->'data'->'agent'->>'id'`, "=", agentId)]))
        .execute(),
    );
    return rows.length;
  })
  .extend("attempts", { scope: "file" }, async ({ published }) => (ws: string) => published.filter((p) => p.event.type === "security.cross_workspace_attempt" && p.event.workspaceId === ws));

async function eventually<T>(find: () => T | undefined, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("registry.agents.create", () => {
  test("a member creates a draft agent at version 1, its config completed with defaults", async ({ db, principal, create, get }) => {
    const member = await principal(newWorkspace(), "member");
    const agent = await create(member, { ...body(), temperature: 0.2, inputSchema: { type: "object", properties: { message: { type: "string" } } } });
    expect(agent).toEqual({
      id: expect.any(String),
      workspaceId: member.ws,
      status: "draft",
      version: 1,
      createdBy: member.sub,
      createdAt: expect.any(String),
      updatedAt: agent.createdAt,
      name: "Support bot",
      description: null,
      provider: "openai",
      model: "galaxy-dev-echo",
      systemPrompt: "You answer support questions.",
      temperature: 0.2,
      maxTokens: null,
      tools: [],
      knowledgeBaseIds: [],
      inputSchema: { type: "object", properties: { message: { type: "string" } } },
      outputSchema: null,
      timeoutMs: null,
      notifyUrl: null,
    });
    expect(new Date(agent.createdAt).toISOString()).toBe(agent.createdAt);
    expect(await get(member, agent.id)).toEqual(agent);

    const versions = await inWorkspace(db, member.ws, (tx) => tx.selectFrom("agent_versions").selectAll().where("agent_id", "=", agent.id).execute());
    expect(versions).toHaveLength(1);
    expect(versions[0]).toMatchObject({ version: 1, workspace_id: member.ws, created_by: member.sub, config: expect.objectContaining({ name: "Support bot", temperature: 0.2 }) });
  });

  test("the creation is published as agent.created, with every header, and stored in the stream", async ({ gatewayBus, published, consumed, principal }) => {
    const member = await principal(newWorkspace(), "member");
    const traceparent = incomingTraceparent();
    const correlationId = randomUUID();
    const agent = await gatewayBus.request("registry.agents.create", body("Published"), { claim: member.claim, workspaceId: member.ws, traceparent, correlationId });

    const wire = await eventually(() => published.find((p) => p.event.type === "agent.created" && p.event.workspaceId === member.ws), "agent.created on the bus");
    expect(wire.subject).toBe(`evt.${member.ws}.agent.created`);
    expect(wire.header(HEADER.workspaceId)).toBe(member.ws);
    expect(wire.subject.split(".")[1]).toBe(wire.header(HEADER.workspaceId));
    expect(wire.header(HEADER.msgId)).toBe(wire.event.id);
    expect(wire.header(HEADER.claim)).toBe(member.claim);
    expect(wire.header(HEADER.eventType)).toBe("agent.created");
    expect(wire.header(HEADER.schemaVersion)).toBe("1");
    expect(wire.header(HEADER.correlationId)).toBe(correlationId);
    expect(wire.header(HEADER.causationId)).toBe(correlationId);
    // One trace: the event's span is a child of the request's.
    expect(wire.header(HEADER.traceparent)?.split("-")[1]).toBe(traceparent.split("-")[1]);
    expect(wire.event.actor).toEqual({ type: "user", id: member.sub });
    expect(wire.event.data).toEqual({ agent });

    const stored = await eventually(() => consumed.find((m) => m.event.id === wire.event.id), "agent.created from the durable consumer");
    expect(stored.subject).toBe(wire.subject);
    expect(stored.claim).toMatchObject({ ws: member.ws, sub: member.sub, act: "user" });
    expect(stored.streamSeq).toBeGreaterThan(0);
  });

  test("an inputSchema that is not a JSON Schema is a 400 naming the field, and nothing is created", async ({ principal, create, list }) => {
    const member = await principal(newWorkspace(), "member");
    await expect(create(member, { ...body(), inputSchema: { type: "objekt" } })).rejects.toMatchObject({
      status: 400,
      code: "invalid_json_schema",
      details: { inputSchema: expect.stringContaining("/type") },
    });
    await expect(create(member, { ...body(), outputSchema: { $ref: "#/definitions/nowhere" } })).rejects.toMatchObject({
      status: 400,
      details: { outputSchema: expect.stringContaining("can't resolve reference") },
    });
    expect((await list(member)).pagination.total).toBe(0);
  });

  test("a body that breaks its schema is a 400 naming each bad field", async ({ principal, create }) => {
    const member = await principal(newWorkspace(), "member");
    const error = await create(member, { name: "", model: "galaxy-dev-echo", systemPrompt: "", temperature: 3, color: "blue" }).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 400, code: "validation_failed" });
    expect(error).toHaveProperty("details.name");
    expect(error).toHaveProperty("details.provider");
    expect(error).toHaveProperty("details.temperature");
  });

  test("a request without a claim is a 401", async ({ gatewayBus }) => {
    await expect(gatewayBus.request("registry.agents.create", body())).rejects.toMatchObject({ status: 401, code: "claim_missing" });
  });
});

describe("registry.agents.list", () => {
  test("pages newest first, filters by status and leaves out deleted agents", async ({ db, principal, create, get, activate, list }) => {
    const ws = newWorkspace();
    const member = await principal(ws, "member");
    const first = await create(member, body("first"));
    const second = await create(member, body("second"));
    const third = await create(member, body("third"));
    await activate(member, second.id);

    const page1 = await list(member, { limit: 2 });
    expect(page1.items.map((a) => a.name)).toEqual(["third", "second"]);
    expect(page1.pagination).toEqual({ total: 3, limit: 2, offset: 0, hasMore: true });
    const page2 = await list(member, { limit: 2, offset: 2 });
    expect(page2.items.map((a) => a.id)).toEqual([first.id]);
    expect(page2.pagination).toEqual({ total: 3, limit: 2, offset: 2, hasMore: false });

    const active = await list(member, { status: "active" });
    expect(active.items.map((a) => a.id)).toEqual([second.id]);
    expect(active.items[0]?.status).toBe("active");
    expect(active.pagination).toEqual({ total: 1, limit: 20, offset: 0, hasMore: false });
    const drafts = await list(member, { status: "draft" });
    expect(drafts.items.map((a) => a.id)).toEqual([third.id, first.id]);

    await inWorkspace(db, ws, (tx) => tx.updateTable("agents").set({ deleted_at: new Date() }).where("id", "=", first.id).execute());
    const afterDelete = await list(member);
    expect(afterDelete.items.map((a) => a.id)).toEqual([third.id, second.id]);
    expect(afterDelete.pagination.total).toBe(2);
    await expect(get(member, first.id)).rejects.toMatchObject({ status: 404, code: "agent_not_found" });
    await expect(activate(member, first.id)).rejects.toMatchObject({ status: 404, code: "agent_not_found" });
  });

  test("shows only the caller's workspace", async ({ principal, create, list }) => {
    const mine = await principal(newWorkspace(), "member");
    const theirs = await principal(newWorkspace(), "member");
    const agent = await create(mine);
    await create(theirs);
    const page = await list(mine);
    expect(page.items.map((a) => a.id)).toEqual([agent.id]);
  });

  test("a limit over 100 is a 400", async ({ principal, list }) => {
    const viewer = await principal(newWorkspace(), "viewer");
    await expect(list(viewer, { limit: 101 })).rejects.toMatchObject({ status: 400, details: { limit: expect.any(String) } });
  });
});

describe("registry.agents.get", () => {
  test("another workspace's agent is a 404, like an unknown id, whatever the caller's role", async ({ principal, create, get, activate }) => {
    const owner = await principal(newWorkspace(), "owner");
    const agent = await create(owner);
    const stranger = await principal(newWorkspace(), "owner");
    const strangerViewer = await principal(stranger.ws, "viewer");
    await expect(get(stranger, agent.id)).rejects.toMatchObject({ status: 404, code: "agent_not_found" });
    await expect(get(owner, uuidv7())).rejects.toMatchObject({ status: 404, code: "agent_not_found" });
    // 404 before any role check: a viewer of the other workspace does not learn the agent exists.
    await expect(activate(strangerViewer, agent.id)).rejects.toMatchObject({ status: 404, code: "agent_not_found" });
    await expect(activate(stranger, agent.id)).rejects.toMatchObject({ status: 404 });
    expect((await get(owner, agent.id)).status).toBe("draft");
  });

  test("an id that is not a UUID is a 400", async ({ principal, get }) => {
    const viewer = await principal(newWorkspace(), "viewer");
    await expect(get(viewer, "not-a-uuid")).rejects.toMatchObject({ status: 400, details: { id: expect.any(String) } });
  });
});

describe("roles", () => {
  test("a viewer cannot create an agent but can read them", async ({ principal, create, get, activate, list }) => {
    const ws = newWorkspace();
    const viewer = await principal(ws, "viewer");
    const member = await principal(ws, "member");
    await expect(create(viewer)).rejects.toMatchObject({ status: 403, code: "forbidden" });
    const agent = await create(member);
    expect((await get(viewer, agent.id)).id).toBe(agent.id);
    expect((await list(viewer)).items.map((a) => a.id)).toEqual([agent.id]);
    await expect(activate(viewer, agent.id)).rejects.toMatchObject({ status: 403 });
  });

  test("a member activates its own agent but not another member's; an admin activates any", async ({ principal, create, get, activate, outboxEvents }) => {
    const ws = newWorkspace();
    const alice = await principal(ws, "member");
    const bob = await principal(ws, "member");
    const admin = await principal(ws, "admin");
    const own = await create(alice, body("alice's own"));
    const other = await create(alice, body("alice's other"));

    expect((await activate(alice, own.id)).status).toBe("active");
    await expect(activate(bob, other.id)).rejects.toMatchObject({ status: 403, code: "forbidden" });
    expect((await get(bob, other.id)).status).toBe("draft");
    expect(await outboxEvents(ws, "agent.activated", other.id)).toBe(0);
    expect((await activate(admin, other.id)).status).toBe("active");
  });

  test("per-member permissions override the role", async ({ principal, create }) => {
    const ws = newWorkspace();
    const trustedViewer = await principal(ws, "viewer", { agents: { create: true } });
    const agent = await create(trustedViewer);
    expect(agent.createdBy).toBe(trustedViewer.sub);
    const restricted = await principal(ws, "member", { agents: { create: false, edit: false } });
    await expect(create(restricted)).rejects.toMatchObject({ status: 403 });
  });
});

describe("registry.agents.activate", () => {
  test("activation answers the active agent and emits agent.activated once", async ({ published, consumed, principal, create, activate, outboxEvents }) => {
    const member = await principal(newWorkspace(), "member");
    const agent = await create(member);
    const active = await activate(member, agent.id);
    expect(active).toEqual({ ...agent, status: "active", updatedAt: expect.any(String) });
    expect(Date.parse(active.updatedAt)).toBeGreaterThanOrEqual(Date.parse(agent.updatedAt));

    const wire = await eventually(() => published.find((p) => p.event.type === "agent.activated" && p.event.workspaceId === member.ws), "agent.activated on the bus");
    expect(wire.subject).toBe(`evt.${member.ws}.agent.activated`);
    expect(wire.header(HEADER.msgId)).toBe(wire.event.id);
    expect(wire.header(HEADER.workspaceId)).toBe(member.ws);
    expect(wire.header(HEADER.claim)).toBe(member.claim);
    expect(wire.event.data).toEqual({ agentId: agent.id, version: 1, status: "active", before: "draft" });
    const stored = await eventually(() => consumed.find((m) => m.event.id === wire.event.id), "agent.activated from the durable consumer");
    expect(stored.event.type).toBe("agent.activated");

    const again: Agent = await activate(member, agent.id);
    expect(again).toEqual(active);
    expect(await outboxEvents(member.ws, "agent.activated", agent.id)).toBe(1);
  });

  test("concurrent activations of one agent emit one event", async ({ principal, create, activate, outboxEvents }) => {
    const member = await principal(newWorkspace(), "member");
    const agent = await create(member);
    const results = await Promise.all(Array.from({ length: 5 }, () => activate(member, agent.id)));
    expect(results.every((a) => a.status === "active")).toBe(true);
    expect(await outboxEvents(member.ws, "agent.activated", agent.id)).toBe(1);
    expect(await outboxEvents(member.ws, "agent.created", agent.id)).toBe(1);
  });
});

describe("lookups of another workspace's agent", () => {
  const from = { clientIp: "203.0.113.7", userAgent: "probe/1.0" };

  async function refusal(promise: Promise<unknown>): Promise<unknown> {
    return promise.then(
      () => {
        throw new Error("expected a 404");
      },
      (error: unknown) => error,
    );
  }

  test("answer the 404 of a random id, and only the foreign id is reported in the caller's workspace", async ({ gatewayBus, principal, create, get, attempts }) => {
    const owner = await principal(newWorkspace(), "owner");
    const agent = await create(owner);
    const stranger = await principal(newWorkspace(), "member");
    const randomId = uuidv7();

    for (const operation of ["registry.agents.get", "registry.agents.activate"] as const) {
      const foreign = await refusal(gatewayBus.request(operation, { id: agent.id }, { claim: stranger.claim, workspaceId: stranger.ws, ...from }));
      const missing = await refusal(gatewayBus.request(operation, { id: randomId }, { claim: stranger.claim, workspaceId: stranger.ws, ...from }));
      // Identical but for the id they name: status, code, title and wording.
      expect(foreign).toMatchObject({ status: 404, code: "agent_not_found" });
      expect(JSON.stringify(foreign).replaceAll(agent.id, "<id>")).toBe(JSON.stringify(missing).replaceAll(randomId, "<id>"));
    }

    const reports = await eventually(() => (attempts(stranger.ws).length >= 2 ? attempts(stranger.ws) : undefined), "two cross-workspace reports");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(attempts(stranger.ws)).toHaveLength(2);
    expect(reports.map((r) => r.event.data)).toEqual([
      { actor: { type: "user", id: stranger.sub }, targetType: "agent", targetId: agent.id, operation: "agents.get", ipAddress: from.clientIp, userAgent: from.userAgent },
      { actor: { type: "user", id: stranger.sub }, targetType: "agent", targetId: agent.id, operation: "agents.activate", ipAddress: from.clientIp, userAgent: from.userAgent },
    ]);
    for (const report of reports) {
      expect(report.subject).toBe(`evt.${stranger.ws}.security.cross_workspace_attempt`);
      expect(report.event.actor).toEqual({ type: "user", id: stranger.sub });
      // The caller's own claim vouches for the report, and the audit log reads where it came from.
      expect(report.header(HEADER.claim)).toBe(stranger.claim);
      expect(report.header(HEADER.clientIp)).toBe(from.clientIp);
      expect(report.header(HEADER.userAgent)).toBe(from.userAgent);
    }
    // Nothing is reported to, or changed in, the owner's workspace.
    expect(attempts(owner.ws)).toEqual([]);
    expect((await get(owner, agent.id)).status).toBe("draft");
  });

  test("a deleted agent of the caller's own workspace is no attempt", async ({ db, principal, create, get, attempts }) => {
    const owner = await principal(newWorkspace(), "owner");
    const agent = await create(owner);
    await inWorkspace(db, owner.ws, (tx) => tx.updateTable("agents").set({ deleted_at: new Date() }).where("id", "=", agent.id).execute());
    await refusal(get(owner, agent.id));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(attempts(owner.ws)).toEqual([]);
  });

  test("agent_exists_elsewhere answers yes or no, and only for another workspace", async ({ db, principal, create }) => {
    const owner = await principal(newWorkspace(), "owner");
    const agent = await create(owner);
    const ask = async (id: string, ws: string) =>
      (await sql<{ found: boolean }>`select registry.agent_exists_elsewhere(${id}::uuid, ${ws}::uuid) as found`.execute(db)).rows[0]?.found;
    expect(await ask(agent.id, newWorkspace())).toBe(true);
    expect(await ask(agent.id, owner.ws)).toBe(false);
    expect(await ask(uuidv7(), newWorkspace())).toBe(false);
  });
});
