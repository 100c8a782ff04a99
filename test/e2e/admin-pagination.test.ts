import { randomUUID } from "node:crypto";
import { describe, expect } from "vitest";
import { z } from "zod";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { Agent, AuditEntry, DeadLetter, ErrorBody, HEADER, LoginResult, Pagination, ReplayAccepted, ReplayRun } from "@galaxy/contracts";
import { connectCli, grantSystemAdmin, parseCliEnv } from "@galaxy/cli";
import { galaxyTest, PASSWORD, startGalaxyFirst } from "./fixtures";
import { api, dataOf, eventually, type ApiResponse, type Galaxy } from "./harness";

/**
 * The operator lists page by cursor as the workspace's lists do (docs/api.md, Pagination),
 * through the gateway as a system admin, and still answer the offset form.
 */

const CONSUMER = "pagination-probe";
const ATTEMPTS = 7;
const LETTERS = 7;
const REPLAYS = 5;
const NOISE = 300;

const Incidents = z.object({ data: z.array(AuditEntry), pagination: Pagination });
const Letters = z.object({ data: z.array(DeadLetter), pagination: Pagination });
const Replays = z.object({ data: z.array(ReplayRun), pagination: Pagination });

/** A dead letter of `consumer` stored in DEAD_LETTERS as a consumer writes one. */
async function plantDeadLetter(galaxy: Galaxy, workspaceId: string, n: number, consumer = CONSUMER): Promise<void> {
  const subject = `evt.${workspaceId}.probe.failed`;
  const h = natsHeaders();
  h.set(HEADER.workspaceId, workspaceId);
  h.set(HEADER.msgId, `${consumer}:EVENTS:${n + 1}`);
  h.set(HEADER.dlqConsumer, consumer);
  h.set(HEADER.dlqSubject, subject);
  h.set(HEADER.dlqError, `probe ${n}`);
  h.set(HEADER.dlqDeliveries, "1");
  await galaxy.observer.rawRequest(galaxy.observer.subject(`dlq.${consumer}.${subject}`), JSON.stringify({ id: randomUUID(), n }), { headers: h, timeoutMs: 5_000 });
}

/** A GET as the system admin. */
type AdminGet = (path: string) => Promise<ApiResponse>;

/**
 * Set up before the first test:
 * - `adminToken`: ops@example.com, made a system admin through the CLI, signed in;
 * - `mallory`: her workspace, with her attempts at Carol's agent (security incidents), dead letters
 *   among another consumer's, and audit replays (dry runs) of it;
 * - `adminGet`: a GET as the system admin.
 */
const test = galaxyTest()
  .extend("adminToken", { scope: "file", auto: true }, async ({ galaxy, signUp }) => {
    await signUp("ops@example.com");
    const bus = await connectCli(parseCliEnv({ NATS_URL: galaxy.env.natsUrl, GALAXY_BUS_PREFIX: galaxy.env.busPrefix }));
    try {
      await grantSystemAdmin(bus, "ops@example.com");
    } finally {
      await bus.close();
    }
    return dataOf(LoginResult, await api(galaxy, "POST", "/api/auth/login", { body: { email: "ops@example.com", password: PASSWORD } })).accessToken;
  })
  .extend("mallory", { scope: "file", auto: true }, async ({ galaxy, signUp, adminToken }) => {
    const mallory = await signUp("mallory@example.com");
    const carol = await signUp("carol@example.com");
    // Security incidents: Mallory's attempts at Carol's agent, one each.
    const agent = dataOf(Agent, await api(galaxy, "POST", "/api/agents", { token: carol.accessToken, body: { name: "Private", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "" } }));
    for (let i = 0; i < ATTEMPTS; i++) expect((await api(galaxy, "GET", `/api/agents/${agent.id}`, { token: mallory.accessToken })).status).toBe(404);
    for (let i = 0; i < LETTERS; i++) await plantDeadLetter(galaxy, mallory.workspace.id, i);
    // Another consumer's letters above them: a cursor page reads back past more than one window (256 first) to find them.
    for (let i = 0; i < NOISE; i++) await plantDeadLetter(galaxy, mallory.workspace.id, i, "pagination-noise");
    for (let i = 0; i < REPLAYS; i++) {
      const response = await api(galaxy, "POST", "/api/admin/replays", { token: adminToken, body: { target: "audit", workspaceId: mallory.workspace.id, dryRun: true } });
      expect(response.status).toBe(202);
      ReplayAccepted.parse(z.object({ data: z.unknown() }).parse(response.body).data);
    }
    await eventually(async () => {
      const page = Incidents.parse((await api(galaxy, "GET", `/api/admin/security-incidents?workspaceId=${mallory.workspace.id}`, { token: adminToken })).body);
      return page.pagination.total === ATTEMPTS ? true : undefined;
    }, 15_000, "every attempt among the incidents");
    return mallory;
  })
  .extend("adminGet", { scope: "file" }, async ({ galaxy, adminToken }): Promise<AdminGet> => (path) => api(galaxy, "GET", path, { token: adminToken }));

// The set-up runs before the first test, under the hooks' time limit, not the test's.
test.beforeAll(async ({ mallory }) => {
  void mallory;
});

/** Every page of `path` by cursor, from an empty cursor, `limit` at a time. */
async function walk<T>(get: AdminGet, path: string, schema: z.ZodType<{ data: T[]; pagination: Pagination }>, limit: number): Promise<T[][]> {
  const pages: T[][] = [];
  let cursor = "";
  for (let i = 0; i < 50; i++) {
    const response = await get(`${path}${path.includes("?") ? "&" : "?"}limit=${limit}&cursor=${encodeURIComponent(cursor)}`);
    expect(response.status).toBe(200);
    const page = schema.parse(response.body);
    pages.push(page.data);
    expect(page.pagination.total).toBeUndefined();
    if (!page.pagination.nextCursor) {
      expect(page.pagination).toEqual({ limit, hasMore: false, nextCursor: null });
      return pages;
    }
    expect(page.pagination.hasMore).toBe(true);
    cursor = page.pagination.nextCursor;
  }
  throw new Error("more than 50 pages");
}

/** The whole list in the offset form, at most 100. */
async function everything<T>(get: AdminGet, path: string, schema: z.ZodType<{ data: T[]; pagination: Pagination }>): Promise<{ data: T[]; pagination: Pagination }> {
  const response = await get(`${path}${path.includes("?") ? "&" : "?"}limit=100`);
  expect(response.status).toBe(200);
  return schema.parse(response.body);
}

async function expectInvalidCursor(get: AdminGet, path: string): Promise<void> {
  const response = await get(path);
  expect(response.status).toBe(400);
  expect(ErrorBody.parse(response.body).code).toBe("invalid_cursor");
}

describe("the operator lists page by cursor", () => {
  test("security incidents: by keyset on their time, in the order of the offset form", async ({ adminGet, mallory }) => {
    const path = `/api/admin/security-incidents?workspaceId=${mallory.workspace.id}`;
    const all = await everything(adminGet, path, Incidents);
    expect(all.pagination).toMatchObject({ total: ATTEMPTS, offset: 0, hasMore: false, nextCursor: null });
    const pages = await walk(adminGet, path, Incidents, 3);
    expect(pages.map((page) => page.length)).toEqual([3, 3, 1]);
    expect(pages.flat().map((e) => e.id)).toEqual(all.data.map((e) => e.id));
  });

  test("dead letters: by keyset on their id, newest first, past other consumers' letters; a letter stored meanwhile does not shift the walk", async ({ galaxy, adminGet, mallory }) => {
    const path = `/api/admin/dead-letters?consumer=${CONSUMER}`;
    const all = await everything(adminGet, path, Letters);
    expect(all.pagination).toMatchObject({ total: LETTERS, hasMore: false, nextCursor: null });
    const first = Letters.parse((await adminGet(`${path}&limit=3&cursor=`)).body);
    await plantDeadLetter(galaxy, mallory.workspace.id, LETTERS);
    const rest = await walk(adminGet, `${path}`, Letters, 3);
    expect(rest.flat()).toHaveLength(LETTERS + 1);
    const second = Letters.parse((await adminGet(`${path}&limit=100&cursor=${z.string().parse(first.pagination.nextCursor)}`)).body);
    expect([...first.data, ...second.data].map((l) => l.id)).toEqual(all.data.map((l) => l.id));
    expect(all.data.map((l) => l.id)).toEqual([...all.data.map((l) => l.id)].sort((a, b) => b - a));
    const everyLetter = await walk(adminGet, "/api/admin/dead-letters", Letters, 100);
    expect(everyLetter.flat()).toHaveLength(LETTERS + 1 + NOISE);
  });

  test("replays: by keyset on their start, newest first", async ({ adminGet }) => {
    const path = "/api/admin/replays?target=audit";
    const all = await everything(adminGet, path, Replays);
    expect(all.pagination).toMatchObject({ total: REPLAYS, hasMore: false, nextCursor: null });
    const pages = await walk(adminGet, path, Replays, 2);
    expect(pages.map((page) => page.length)).toEqual([2, 2, 1]);
    expect(pages.flat().map((r) => r.id)).toEqual(all.data.map((r) => r.id));
  });

  test("the system workspace's audit log: by keyset on its seq", async ({ adminGet }) => {
    const all = await everything(adminGet, "/api/admin/audit-logs", Incidents);
    expect(all.data.length).toBeGreaterThan(2);
    const pages = await walk(adminGet, "/api/admin/audit-logs", Incidents, 2);
    // Entries recorded after the offset read come first; the rest is the offset form's list.
    const newest = all.data[0]?.seq ?? 0;
    expect(pages.flat().filter((e) => e.seq <= newest).map((e) => e.id)).toEqual(all.data.map((e) => e.id));
  });
startGalaxyFirst(test);

  test("the offset form is answered as before, with a nextCursor to go on from", async ({ adminGet }) => {
    const page = Replays.parse((await adminGet("/api/admin/replays?target=audit&limit=2&offset=2")).body);
    expect(page.pagination).toMatchObject({ total: REPLAYS, limit: 2, offset: 2, hasMore: true });
    const all = await everything(adminGet, "/api/admin/replays?target=audit", Replays);
    expect(page.data.map((r) => r.id)).toEqual(all.data.slice(2, 4).map((r) => r.id));
    const rest = Replays.parse((await adminGet(`/api/admin/replays?target=audit&limit=2&cursor=${z.string().parse(page.pagination.nextCursor)}`)).body);
    expect(rest.data.map((r) => r.id)).toEqual(all.data.slice(4).map((r) => r.id));
  });

  test("a cursor of another list, of other filters, or not a cursor at all is a 400 invalid_cursor", async ({ adminGet, mallory }) => {
    const replays = Replays.parse((await adminGet("/api/admin/replays?target=audit&limit=1&cursor=")).body);
    const cursor = z.string().parse(replays.pagination.nextCursor);
    await expectInvalidCursor(adminGet, `/api/admin/dead-letters?limit=1&cursor=${cursor}`);
    await expectInvalidCursor(adminGet, `/api/admin/security-incidents?limit=1&cursor=${cursor}`);
    await expectInvalidCursor(adminGet, `/api/admin/audit-logs?limit=1&cursor=${cursor}`);
    await expectInvalidCursor(adminGet, `/api/admin/replays?limit=1&cursor=${cursor}`);
    await expectInvalidCursor(adminGet, `/api/admin/replays?target=audit&limit=1&cursor=not-a-cursor`);
    const incidents = Incidents.parse((await adminGet(`/api/admin/security-incidents?workspaceId=${mallory.workspace.id}&limit=1&cursor=`)).body);
    await expectInvalidCursor(adminGet, `/api/admin/security-incidents?limit=1&cursor=${z.string().parse(incidents.pagination.nextCursor)}`);
  });
});
