import { randomUUID } from "node:crypto";
import { describe, expect } from "vitest";
import { ErrorBody } from "@galaxy/contracts";
import { sql } from "@galaxy/db";
import { api, eventually, type ApiResponse, type Galaxy } from "./harness";
import { changedTables, settledFingerprint } from "./authorization/fingerprint";
import { test } from "./authorization/fixtures";
import { AGENT_BODY, keyOf, PASSWORD, PENDING, PRINCIPALS, rowName, WRITES, type CellRequest, type Method, type PrincipalName } from "./authorization/principals";
import { ROWS } from "./authorization/rows";

/**
 * The authorization matrix (docs/api.md): every endpoint of the gateway × every kind of caller
 * → the status it gets, from the one table `ROWS` (authorization/rows.ts). Each cell is its own test with its
 * own fresh resources where a success would use them up. For every refused write, the
 * database (every table of every schema, read as the superuser, but for what changes on its
 * own: see `fingerprint`) is the same after as before.
 *
 * The endpoint list is the running gateway's `/openapi.json`: an endpoint without a row fails
 * "the table covers every endpoint", so a new endpoint needs its row there.
 */

// The world takes some ten seconds to build (an API key must expire first), and more under load:
// it is built under this hook's time limit, not the first cell's.
test.beforeAll(async ({ world, documented }) => {
  void world;
  void documented;
}, 120_000);

/** A call that keeps the body as text when it is not JSON (the docs page, metrics). */
async function send(galaxy: Galaxy, method: Method, path: string, token: string | undefined, cell: CellRequest): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = { ...(cell.body !== undefined ? { "content-type": "application/json" } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}), ...cell.headers };
  const response = await fetch(`${galaxy.url}${path}`, { method, headers, ...(cell.body !== undefined ? { body: typeof cell.body === "string" ? cell.body : JSON.stringify(cell.body) } : {}) });
  // A live stream answers its status and headers, then stays open: the cell needs only those.
  if (response.ok && (response.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
    await response.body?.cancel();
    return { status: response.status, body: "" };
  }
  const text = await response.text();
  const json = (response.headers.get("content-type") ?? "").includes("application/json");
  return { status: response.status, body: json && text ? JSON.parse(text) : text };
}

describe("the table", () => {
  test("covers every endpoint of /openapi.json, and names only endpoints it serves (or pending ones)", ({ documented }) => {
    const rowKeys = new Set(ROWS.map(keyOf));
    const withoutRow = [...documented].filter((k) => !rowKeys.has(k));
    expect(withoutRow, "endpoints in /openapi.json without a row in ROWS: add one").toEqual([]);
    const stray = ROWS.filter((r) => !r.hidden && !documented.has(keyOf(r)) && !PENDING.has(keyOf(r))).map(rowName);
    expect(stray, "rows whose endpoint is not in /openapi.json (removed or renamed?)").toEqual([]);
    const landed = [...PENDING].filter((k) => documented.has(k));
    expect(landed, "PENDING entries now in /openapi.json: remove them from PENDING").toEqual([]);
    // The document is the gateway's real one, not an empty shell that would cover nothing.
    expect(documented.size).toBeGreaterThan(20);
  });

  test("the database fingerprint sees the writes the matrix refuses, when they are allowed", async ({ galaxy, superuser, world }) => {
    // Without this, a fingerprint blind to some table would let every refused write pass.
    const sees = async (table: string, write: () => Promise<ApiResponse>, status: number) => {
      const before = await settledFingerprint(superuser);
      expect((await write()).status).toBe(status);
      expect(changedTables(before, await settledFingerprint(superuser))).toContain(table);
    };
    const owner = world.tokens.owner;
    await sees("registry.agents", () => api(galaxy, "POST", "/api/agents", { token: owner, body: AGENT_BODY }), 201);
    await sees("registry.agents", async () => api(galaxy, "POST", `/api/agents/${await world.freshDraftAgent("member")}/activate`, { token: owner }), 200);
    await sees("identity.members", async () => api(galaxy, "PATCH", `/api/members/${await world.freshMember("viewer")}`, { token: owner, body: { role: "member" } }), 200);
    await sees("identity.api_keys", async () => api(galaxy, "DELETE", `/api/api-keys/${await world.freshApiKey()}`, { token: owner }), 204);
    await sees("identity.provider_credentials", () => api(galaxy, "PUT", "/api/provider-credentials/pinecone", { token: owner, body: { apiKey: `pc-${randomUUID()}` } }), 200);
    await sees("identity.workspaces", () => api(galaxy, "PATCH", "/api/workspace", { token: owner, body: { settings: { seen: randomUUID() } } }), 200);
    await sees("execution.executions", () => api(galaxy, "POST", `/api/agents/${world.activeAgentId}/executions`, { token: owner, body: { input: { message: "seen" } } }), 202);
    await sees("identity.users", () => api(galaxy, "POST", "/api/auth/signup", { body: { email: world.freshEmail(), password: PASSWORD, name: "Seen", workspaceName: "Seen" } }), 201);
    // The events a write emits: an outbox the write touches nothing else of would still show.
    await sees("identity.outbox", async () => api(galaxy, "DELETE", `/api/api-keys/${await world.freshApiKey()}`, { token: owner }), 204);
    await sees("registry.outbox", () => api(galaxy, "POST", "/api/agents", { token: owner, body: AGENT_BODY }), 201);
    await sees("registry.knowledge_documents", () => api(galaxy, "POST", `/api/knowledge-bases/${world.knowledgeBaseId}/documents`, { token: owner, body: { title: "Seen", text: "seen" } }), 202);

    // …but not the `security.*` reports a refusal legitimately writes (here, asynchronously: a foreign agent's 404).
    const reports = async () => Number((await sql<{ n: number }>`select count(*)::int as n from registry.outbox where type = 'security.cross_workspace_attempt'`.execute(superuser)).rows[0]?.n);
    const reported = await reports();
    const before = await settledFingerprint(superuser);
    expect((await api(galaxy, "GET", `/api/agents/${world.activeAgentId}`, { token: world.tokens.outsider })).status).toBe(404);
    await eventually(async () => ((await reports()) > reported ? true : undefined), 5_000, "the cross-workspace report");
    expect(changedTables(before, await settledFingerprint(superuser))).toEqual([]);
  });

  test("has one status per principal in every row", () => {
    for (const row of ROWS) expect(row.expect, rowName(row)).toHaveLength(PRINCIPALS.length);
  });
});

const TITLES: Record<number, string> = { 400: "Validation Error", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict" };
const BAD_CREDENTIAL_CODES: Partial<Record<PrincipalName, string>> = { expired: "token_expired", stale: "token_stale", "key:revoked": "invalid_api_key", "key:expired": "invalid_api_key", none: "missing_credentials" };

for (const row of ROWS) {
  describe(rowName(row), () => {
    PRINCIPALS.forEach((principal, index) => {
      const expected = row.expect[index] ?? 0;
      test(`${principal} → ${expected}`, async ({ galaxy, superuser, world, documented }) => {
        const pendingAbsent = PENDING.has(keyOf(row)) && !documented.has(keyOf(row));
        const cell = await row.request(world, principal);
        const token = world.tokens[principal];
        const denied = pendingAbsent || expected >= 400;
        const guard = WRITES.has(row.method) && denied;
        const before = guard ? await settledFingerprint(superuser) : undefined;
        const response = await send(galaxy, row.method, cell.path, token, cell);
        const what = `${row.method} ${cell.path} as ${principal}: ${JSON.stringify(response.body)?.slice(0, 300)}`;

        if (pendingAbsent) {
          // Not served yet: the cell proves the route is really absent, not silently answering.
          expect(response.status, what).toBe(404);
          expect(ErrorBody.parse(response.body).code, what).toBe("route_not_found");
        } else {
          expect(response.status, what).toBe(expected);
          if (expected >= 400) {
            const error = ErrorBody.parse(response.body);
            expect(error.error, what).toBe(TITLES[expected]);
            const badCredentialCode = BAD_CREDENTIAL_CODES[principal];
            if (expected === 401 && row.auth === "bearer" && badCredentialCode) expect(error.code, what).toBe(badCredentialCode);
            // A foreign resource is the resource's own 404, never a missing route.
            if (expected === 404) expect(error.code, what).toMatch(/^(?!route_)[a-z_]+_not_found$/);
          }
        }

        if (before) {
          const after = await settledFingerprint(superuser);
          expect(changedTables(before, after), `a refused ${what} changed the database`).toEqual([]);
        }
      });
    });
  });
}
