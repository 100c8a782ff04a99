import { describe, expect } from "vitest";
import { z } from "zod";
import { Agent, AuditEntry, AuditVerification, CreatedApiKey, ErrorBody, LoginResult, Pagination } from "@galaxy/contracts";
import { createDb } from "@galaxy/db";
import { GENESIS_HEAD, appendToChain, verifyChain, type AuditDb, type HashedAuditEntry } from "@galaxy/audit";
import { enterChain, insertEntriesAfter } from "../../services/audit/test/support/chain-seed";
import { galaxyTest, PASSWORD, startGalaxyFirst } from "./fixtures";
import { api, dataOf, eventually } from "./harness";

/**
 * The audit trail through the gateway (docs/api.md, docs/audit-chain.md): changes
 * of every kind become entries with who, what, from where and in which trace; the list
 * filters; verify re-checks the chain and names what was tampered with; export streams it.
 */

const USER_AGENT = "audit-e2e/1.0 (+https://example.com)";
const TRACE_ID = "0af7651916cd43dd8448eb211c80319c";
const PROVIDER_KEY = "sk-test-abcdefghijklmnop1234";
// The offset form: it counts `total`.
const List = z.object({ data: z.array(AuditEntry), pagination: Pagination.extend({ total: z.number().int() }) });
const started = new Date().toISOString();

const asChain = (entries: readonly AuditEntry[]): HashedAuditEntry[] =>
  entries.map((e) => ({ ...e, resourceId: e.resourceId ?? "", changes: e.changes as HashedAuditEntry["changes"] }));

/** What the workspace's chain must hold once the changes below are audited. */
const ACTIONS = [
  "workspace.created",
  "workspace.updated",
  "member.added",
  "member.role_changed",
  "api_key.created",
  "provider_credential.updated",
  "agent.created",
  "agent.activated",
  "execution.queued",
  "knowledge_base.created",
  "api_key.revoked",
  "provider_credential.deleted",
  "member.removed",
] as const;

/**
 * - `tamperer`: the bootstrap (superuser) connection to the audit schema;
 * - `olga`, the owner, and `tim`, each with a workspace of their own;
 * - `asOlga`: a call as Olga from a browser of a known user agent, in a trace of her own;
 * - `list`, `verify`, `exportLines`: the audit log's list (as Olga unless told), verification and export.
 */
const base = galaxyTest()
  .extend("tamperer", { scope: "file" }, async ({ galaxy }, { onCleanup }) => {
    const tamperer = createDb<AuditDb>({ connectionString: galaxy.env.databaseUrl, schema: "audit", max: 2 });
    onCleanup(() => tamperer.destroy());
    return tamperer;
  })
  .extend("olga", { scope: "file" }, async ({ signUp }) => signUp("olga@example.com"))
  // Signed up after Olga.
  .extend("tim", { scope: "file" }, async ({ signUp, olga }) => {
    void olga;
    return signUp("tim@example.com");
  })
  .extend("asOlga", { scope: "file" }, async ({ galaxy, olga }) => (method: string, path: string, body?: unknown) =>
    api(galaxy, method, path, { token: olga.accessToken, body, headers: { "user-agent": USER_AGENT, traceparent: `00-${TRACE_ID}-b7ad6b7169203331-01` } }))
  .extend("list", { scope: "file" }, async ({ galaxy, olga }) => async (query = "", token = olga.accessToken) => {
    const response = await api(galaxy, "GET", `/api/audit-logs${query}`, { token });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return List.parse(response.body);
  })
  .extend("verify", { scope: "file" }, async ({ galaxy, olga }) => async () =>
    dataOf(AuditVerification, await api(galaxy, "GET", "/api/audit-logs/verify", { token: olga.accessToken })))
  .extend("exportLines", { scope: "file" }, async ({ galaxy, olga }) => async (query = ""): Promise<{ contentType: string | null; entries: AuditEntry[] }> => {
    const response = await fetch(`${galaxy.url}/api/audit-logs/export${query}`, { headers: { authorization: `Bearer ${olga.accessToken}` } });
    expect(response.status).toBe(200);
    const text = await response.text();
    return { contentType: response.headers.get("content-type"), entries: text === "" ? [] : text.trimEnd().split("\n").map((line) => AuditEntry.parse(JSON.parse(line))) };
  });

/**
 * Set up before the first test: changes of every kind in Olga's workspace, each through the
 * gateway, until every one of them (and the execution's end) is in the audit log; `apiKey` and
 * `agent` are the key and the agent it made.
 */
const test = base
  .extend("changes", { scope: "file", auto: true }, async ({ tim, asOlga, list }) => {
    expect((await asOlga("PATCH", "/api/workspace", { name: "Olga's team" })).status).toBe(200);
    expect((await asOlga("POST", "/api/members", { email: "tim@example.com", role: "viewer" })).status).toBe(201);
    expect((await asOlga("PATCH", `/api/members/${tim.user.id}`, { role: "member" })).status).toBe(200);
    const apiKey = dataOf(CreatedApiKey, await asOlga("POST", "/api/api-keys", { name: "CI", role: "member" }));
    expect((await asOlga("PUT", "/api/provider-credentials/openai", { apiKey: PROVIDER_KEY })).status).toBe(200);
    const agent = dataOf(Agent, await asOlga("POST", "/api/agents", { name: "Support bot", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "Be kind." }));
    expect((await asOlga("POST", `/api/agents/${agent.id}/activate`)).status).toBe(200);
    expect((await asOlga("POST", `/api/agents/${agent.id}/executions`, { input: { message: "hello" } })).status).toBe(202);
    expect((await asOlga("POST", "/api/knowledge-bases", { name: "Handbook" })).status).toBe(201);
    expect((await asOlga("DELETE", `/api/api-keys/${apiKey.id}`)).status).toBe(204);
    expect((await asOlga("DELETE", "/api/provider-credentials/openai")).status).toBe(204);
    expect((await asOlga("DELETE", `/api/members/${tim.user.id}`)).status).toBe(204);

    await eventually(async () => {
      const { data } = await list("?limit=100");
      const actions = new Set(data.map((e) => e.action));
      // The execution's end too: after it, nothing more happens in the workspace until a test acts.
      const ended = actions.has("execution.completed") || actions.has("execution.failed");
      return ended && ACTIONS.every((action) => actions.has(action)) ? true : undefined;
    }, 20_000, "every change in the audit log");
    return { apiKey, agent };
  })
  .extend("apiKey", { scope: "file" }, async ({ changes }) => changes.apiKey)
  .extend("agent", { scope: "file" }, async ({ changes }) => changes.agent);

// The changes are made before the first test, under a time limit of their own (they wait for the audit log).
test.beforeAll(async ({ changes }) => {
  void changes;
}, 120_000);

describe("entries", () => {
  test("each change is an entry naming actor, action, resource, changes, IP, user agent and trace", async ({ olga, tim, list, apiKey, agent }) => {
    const { data } = await list("?limit=100");
    const byAction = (action: string) => data.find((e) => e.action === action);
    for (const action of ACTIONS.slice(1)) {
      const entry = byAction(action);
      expect(entry, action).toBeDefined();
      if (action === "execution.queued") continue;
      expect(entry, action).toMatchObject({ actor: { type: "user", id: olga.user.id }, ipAddress: "127.0.0.1", userAgent: USER_AGENT, traceId: TRACE_ID });
    }
    expect(byAction("member.role_changed")).toMatchObject({
      resourceType: "member",
      resourceId: tim.user.id,
      changes: { before: { role: "viewer" }, after: { role: "member" } },
    });
    expect(byAction("agent.created")).toMatchObject({ resourceType: "agent", resourceId: agent.id, changes: { before: null, after: { name: "Support bot" } } });
    expect(byAction("api_key.revoked")).toMatchObject({ resourceId: apiKey.id, changes: { before: { revoked: false }, after: { revoked: true } } });
    // The execution's entry is in the same trace, though a service recorded it.
    expect(byAction("execution.queued")?.traceId).toBe(TRACE_ID);
  });

  test("no secret reaches an entry", async ({ list, apiKey }) => {
    const text = JSON.stringify((await list("?limit=100")).data);
    expect(text).not.toContain(PROVIDER_KEY);
    expect(text).not.toContain(apiKey.key);
  });

  test("a workspace's log holds its own entries alone", async ({ tim, list }) => {
    const { data } = await list("?limit=100", tim.accessToken);
    expect(data.every((e) => e.workspaceId === tim.workspace.id)).toBe(true);
    expect(data.map((e) => e.action)).toContain("workspace.created");
  });
});
startGalaxyFirst(test);

describe("GET /api/audit-logs", () => {
  test("newest first, paginated", async ({ list }) => {
    const all = await list("?limit=100");
    expect(all.data.map((e) => e.seq)).toEqual([...all.data.map((e) => e.seq)].sort((a, b) => b - a));
    const first = await list("?limit=3");
    const second = await list("?limit=3&offset=3");
    expect(first.pagination).toEqual({ total: all.pagination.total, limit: 3, offset: 0, hasMore: true, nextCursor: expect.any(String) });
    expect([...first.data, ...second.data].map((e) => e.id)).toEqual(all.data.slice(0, 6).map((e) => e.id));
  });

  test("filters by action, resource type and id, actor, and time range", async ({ olga, tim, list, apiKey, agent }) => {
    const byAction = await list("?action=member.role_changed");
    expect(byAction.data.map((e) => e.action)).toEqual(["member.role_changed"]);

    const byResourceType = await list("?resourceType=member");
    expect(new Set(byResourceType.data.map((e) => e.action))).toEqual(new Set(["member.added", "member.role_changed", "member.removed"]));

    const byResource = await list(`?resourceId=${agent.id}`);
    expect(byResource.data.map((e) => e.action).sort()).toEqual(["agent.activated", "agent.created"]);
    expect(byResource.data.every((e) => e.resourceId === agent.id)).toBe(true);

    const byBoth = await list(`?resourceType=api_key&resourceId=${apiKey.id}&action=api_key.revoked`);
    expect(byBoth.data).toHaveLength(1);

    const byActor = await list(`?actorId=${olga.user.id}&limit=100`);
    expect(byActor.data.length).toBeGreaterThanOrEqual(ACTIONS.length - 2);
    expect(byActor.data.every((e) => e.actor.id === olga.user.id)).toBe(true);
    expect((await list(`?actorId=${tim.user.id}`)).data).toEqual([]);

    const all = await list("?limit=100");
    const pivot = all.data.find((e) => e.action === "agent.created");
    if (!pivot) throw new Error("no agent.created entry");
    const before = await list(`?until=${encodeURIComponent(pivot.occurredAt)}&limit=100`);
    const after = await list(`?since=${encodeURIComponent(pivot.occurredAt)}&limit=100`);
    expect(before.data.every((e) => Date.parse(e.occurredAt) < Date.parse(pivot.occurredAt))).toBe(true);
    expect(after.data.every((e) => Date.parse(e.occurredAt) >= Date.parse(pivot.occurredAt))).toBe(true);
    expect(before.pagination.total + after.pagination.total).toBe(all.pagination.total);
    expect((await list(`?since=${encodeURIComponent(started)}&until=${encodeURIComponent(started)}`)).data).toEqual([]);
  });

  test("a bad filter is a 400", async ({ galaxy, olga }) => {
    const response = await api(galaxy, "GET", "/api/audit-logs?since=yesterday", { token: olga.accessToken });
    expect(response.status).toBe(400);
    expect(ErrorBody.parse(response.body).code).toBe("validation_failed");
  });
});

describe("GET /api/audit-logs/export", () => {
  test("streams the whole log as NDJSON, oldest first: the chain itself, which verifies offline", async ({ list, exportLines }) => {
    const { contentType, entries } = await exportLines();
    expect(contentType).toMatch(/^application\/x-ndjson/);
    const total = (await list()).pagination.total;
    expect(entries).toHaveLength(total);
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(verifyChain(asChain(entries), GENESIS_HEAD)).toMatchObject({ valid: true, entries: total });
  });

  test("takes the list's filters", async ({ list, exportLines }) => {
    const { entries } = await exportLines("?resourceType=member");
    const listed = await list("?resourceType=member&limit=100");
    expect(entries.map((e) => e.id)).toEqual(listed.data.map((e) => e.id).reverse());
    expect(entries.map((e) => e.action).slice(-2)).toEqual(["member.role_changed", "member.removed"]);
    expect((await exportLines("?action=nothing.happened")).entries).toEqual([]);
  });

  test("a caller whose access ends during an export gets an aborted transfer, not a short 200", async ({ galaxy, signUp, tamperer }) => {
    const ed = await signUp("ed@example.com");
    const ada = await signUp("ada@example.com");
    const asEd = (method: string, path: string, body?: unknown) => api(galaxy, method, path, { token: ed.accessToken, body });
    expect((await asEd("POST", "/api/members", { email: "ada@example.com", role: "admin" })).status).toBe(201);
    const adaToken = dataOf(LoginResult, await api(galaxy, "POST", "/api/auth/login", { body: { email: "ada@example.com", password: PASSWORD, workspaceId: ed.workspace.id } })).accessToken;
    // A log far longer than the sockets between here and the gateway hold: 30,000 entries
    // (about 15 MB of NDJSON), appended after the workspace's own as audit appends them.
    const ws = ed.workspace.id;
    await tamperer.transaction().execute(async (tx) => {
      await enterChain(tx, ws);
      // The chain's head: its last entry, else genesis (a new workspace has no retention checkpoint).
      const last = await tx.selectFrom("audit_logs").select(["seq", "hash"]).where("workspace_id", "=", ws).orderBy("seq", "desc").limit(1).executeTakeFirst();
      let head = last ? { seq: Number(last.seq), hash: last.hash } : GENESIS_HEAD;
      const entries: HashedAuditEntry[] = [];
      for (let i = 0; i < 30_000; i++) {
        const entry = appendToChain(head, {
          id: crypto.randomUUID(), workspaceId: ws, actor: { type: "user", id: ed.user.id }, action: "agent.updated", resourceType: "agent",
          resourceId: crypto.randomUUID(), changes: { before: { name: "Old" }, after: { name: "New" } }, ipAddress: "203.0.113.7", userAgent: USER_AGENT,
          traceId: TRACE_ID, occurredAt: new Date().toISOString(),
        });
        entries.push(entry);
        head = { seq: entry.seq, hash: entry.hash };
      }
      const first = entries[0];
      if (!first) throw new Error("no entries");
      expect(await insertEntriesAfter(tx, ws, first.prevHash, entries.map((entry) => ({ entry, streamSeq: 0 })))).toBe(entries.length);
    });

    const response = await fetch(`${galaxy.url}/api/audit-logs/export`, { headers: { authorization: `Bearer ${adaToken}` } });
    expect(response.status).toBe(200);
    if (!response.body) throw new Error("no body");
    const reader = response.body.getReader();
    expect((await reader.read()).done).toBe(false);
    // Ada stops being a member while the export waits for her to read on.
    expect((await asEd("DELETE", `/api/members/${ada.user.id}`)).status).toBe(204);
    await eventually(async () => ((await api(galaxy, "GET", "/api/audit-logs", { token: adaToken })).status !== 200 ? true : undefined), 10_000, "Ada refused");
    const outcome = await (async () => {
      for (;;) if ((await reader.read()).done) return "ended";
    })().catch(() => "aborted");
    expect(outcome).toBe("aborted");
  });
});

describe("GET /api/audit-logs/verify", () => {
  test("an untouched chain is valid end to end", async ({ olga, list, verify }) => {
    const total = (await list()).pagination.total;
    const result = await verify();
    expect(result).toMatchObject({ workspaceId: olga.workspace.id, valid: true, entries: total, checkpoint: null, head: { seq: total } });
  });

  test("names the first row that was changed, and then the first that was deleted", async ({ tamperer, olga, verify }) => {
    const ws = olga.workspace.id;
    const row = (seq: number) => tamperer.updateTable("audit_logs").where("workspace_id", "=", ws).where("seq", "=", seq);
    const original = await tamperer.selectFrom("audit_logs").selectAll().where("workspace_id", "=", ws).where("seq", "=", 4).executeTakeFirstOrThrow();

    await row(4).set({ user_agent: "innocent/1.0" }).execute();
    expect(await verify()).toMatchObject({ valid: false, entries: 3, firstBadSeq: 4, reason: "hash_mismatch", head: null });

    await row(4).set({ user_agent: original.user_agent }).execute();
    expect(await verify()).toMatchObject({ valid: true });

    await tamperer.deleteFrom("audit_logs").where("workspace_id", "=", ws).where("seq", "=", 6).execute();
    expect(await verify()).toMatchObject({ valid: false, entries: 5, firstBadSeq: 6, reason: "seq_gap" });
  });
});

describe("who may read it", () => {
  test("members, viewers and member keys are refused on list, verify and export", async ({ galaxy, signUp, olga, asOlga }) => {
    const key = dataOf(CreatedApiKey, await asOlga("POST", "/api/api-keys", { name: "member key", role: "member" }));
    /** A user of Olga's workspace with `role`, signed in to it. */
    const userWith = async (email: string, role: "member" | "viewer") => {
      await signUp(email);
      expect((await asOlga("POST", "/api/members", { email, role })).status).toBe(201);
      return dataOf(LoginResult, await api(galaxy, "POST", "/api/auth/login", { body: { email, password: PASSWORD, workspaceId: olga.workspace.id } })).accessToken;
    };
    const callers = { member: await userWith("mia@example.com", "member"), viewer: await userWith("val@example.com", "viewer"), "member key": key.key };
    for (const path of ["/api/audit-logs", "/api/audit-logs/verify", "/api/audit-logs/export"]) {
      for (const [who, token] of Object.entries(callers)) {
        const response = await api(galaxy, "GET", path, { token });
        expect(response.status, `${who} ${path}`).toBe(403);
      }
      expect((await api(galaxy, "GET", path)).status, path).toBe(401);
    }
    // Olga, the owner, may: the refusals above are the role's.
    expect((await api(galaxy, "GET", "/api/audit-logs", { token: olga.accessToken })).status).toBe(200);
  });
});
