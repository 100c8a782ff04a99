import { describe, expect } from "vitest";
import { z } from "zod";
import { Agent, AuditEntry, ErrorBody, Execution, Pagination, SignupResult } from "@galaxy/contracts";
import { galaxyTest, startGalaxyFirst } from "./fixtures";
import { api, dataOf, eventually } from "./harness";

const Executions = z.object({ data: z.array(Execution), pagination: Pagination });
const Entries = z.object({ data: z.array(AuditEntry), pagination: Pagination });

/** Set up before the first test: Pia's workspace, an active agent, and seven executions of it (`started`, oldest first). */
const test = galaxyTest()
  .extend("token", { scope: "file", auto: true }, async ({ galaxy }) =>
    dataOf(SignupResult, await api(galaxy, "POST", "/api/auth/signup", { body: { email: "pia@example.com", password: "correct horse battery", name: "Pia", workspaceName: "Pages" } })).accessToken)
  .extend("agentId", { scope: "file", auto: true }, async ({ galaxy, token }) => {
    const agentId = dataOf(Agent, await api(galaxy, "POST", "/api/agents", { token, body: { name: "Echo", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "Repeat." } })).id;
    await api(galaxy, "POST", `/api/agents/${agentId}/activate`, { token });
    return agentId;
  })
  .extend("started", { scope: "file", auto: true }, async ({ galaxy, token, agentId }) => {
    const started: string[] = [];
    for (let i = 0; i < 7; i++) started.push(dataOf(Execution, await api(galaxy, "POST", `/api/agents/${agentId}/executions`, { token, body: { input: { message: `m${i}` } } })).id);
    return started;
  })
  /** Every page of `path` by cursor, from an empty cursor, `limit` at a time. */
  .extend("walk", { scope: "file" }, async ({ galaxy, token }) =>
    async <T>(path: string, schema: z.ZodType<{ data: T[]; pagination: Pagination }>, limit: number): Promise<{ pages: T[][]; last: Pagination }> => {
      const pages: T[][] = [];
      let cursor = "";
      for (let i = 0; i < 50; i++) {
        const separator = path.includes("?") ? "&" : "?";
        const response = await api(galaxy, "GET", `${path}${separator}limit=${limit}&cursor=${encodeURIComponent(cursor)}`, { token });
        expect(response.status).toBe(200);
        const page = schema.parse(response.body);
        pages.push(page.data);
        expect(page.pagination.total).toBeUndefined();
        if (!page.pagination.nextCursor) return { pages, last: page.pagination };
        expect(page.pagination.hasMore).toBe(true);
        cursor = page.pagination.nextCursor;
      }
      throw new Error("more than 50 pages");
    });
startGalaxyFirst(test);

describe("cursor pagination", () => {
  test("executions page by cursor in the order the offset form lists them, and the last page says so", async ({ galaxy, token, started, walk }) => {
    const all = Executions.parse((await api(galaxy, "GET", "/api/executions?limit=100", { token })).body);
    expect(all.pagination).toMatchObject({ total: 7, offset: 0, hasMore: false, nextCursor: null });
    const { pages, last } = await walk("/api/executions", Executions, 3);
    expect(pages.map((page) => page.length)).toEqual([3, 3, 1]);
    expect(last).toEqual({ limit: 3, hasMore: false, nextCursor: null });
    expect(pages.flat().map((e) => e.id)).toEqual(all.data.map((e) => e.id));
    expect(new Set(pages.flat().map((e) => e.id))).toEqual(new Set(started));
  });

  test("the offset form answers a nextCursor that continues where it stopped", async ({ galaxy, token }) => {
    const first = Executions.parse((await api(galaxy, "GET", "/api/executions?limit=4", { token })).body);
    expect(first.pagination).toMatchObject({ total: 7, limit: 4, offset: 0, hasMore: true });
    const cursor = z.string().parse(first.pagination.nextCursor);
    const rest = Executions.parse((await api(galaxy, "GET", `/api/executions?limit=4&offset=99&cursor=${cursor}`, { token })).body);
    expect(rest.data).toHaveLength(3);
    const all = Executions.parse((await api(galaxy, "GET", "/api/executions?limit=100", { token })).body);
    expect([...first.data, ...rest.data].map((e) => e.id)).toEqual(all.data.map((e) => e.id));
  });

  test("an agent's executions page by cursor too", async ({ agentId, walk }) => {
    const { pages } = await walk(`/api/agents/${agentId}/executions`, Executions, 5);
    expect(pages.flat()).toHaveLength(7);
  });

  test("a cursor that is not one, or one from other filters, is a 400 invalid_cursor", async ({ galaxy, token }) => {
    const first = Executions.parse((await api(galaxy, "GET", "/api/executions?limit=2&cursor=", { token })).body);
    const cursor = z.string().parse(first.pagination.nextCursor);
    for (const path of ["/api/executions?cursor=not-a-cursor", `/api/executions?status=completed&cursor=${cursor}`, `/api/audit-logs?cursor=${cursor}`]) {
      const response = await api(galaxy, "GET", path, { token });
      expect(response.status, path).toBe(400);
      expect(ErrorBody.parse(response.body).code, path).toBe("invalid_cursor");
    }
  });

  test("the audit log pages by cursor, newest first, with no entry twice", async ({ galaxy, token, started, walk }) => {
    // Every execution's last entry is in: the log no longer grows while it is walked.
    await eventually(async () => {
      const response = Entries.parse((await api(galaxy, "GET", "/api/audit-logs?limit=100&action=execution.completed", { token })).body);
      return response.data.length >= started.length ? true : undefined;
    }, 15_000, "every execution's execution.completed entry");
    const all = Entries.parse((await api(galaxy, "GET", "/api/audit-logs?limit=100", { token })).body);
    const { pages } = await walk("/api/audit-logs", Entries, 4);
    const seqs = pages.flat().map((e) => e.seq);
    expect(seqs.slice(0, all.data.length)).toEqual(all.data.map((e) => e.seq));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
  });

  test("an execution's deliveries answer the cursor form (none: the agent has no notifyUrl)", async ({ galaxy, token, started }) => {
    const response = await api(galaxy, "GET", `/api/executions/${started[0]}/deliveries?cursor=`, { token });
    expect(response.status).toBe(200);
    expect(z.object({ data: z.array(z.unknown()), pagination: Pagination }).parse(response.body)).toEqual({ data: [], pagination: { limit: 20, hasMore: false, nextCursor: null } });
  });
});

describe("pages of large executions", () => {
  test("executions with large inputs and outputs list in shorter pages, each one once, rather than in a reply the bus cannot carry", async ({ galaxy }) => {
    const token = dataOf(SignupResult, await api(galaxy, "POST", "/api/auth/signup", { body: { email: "lars@example.com", password: "correct horse battery", name: "Lars", workspaceName: "Large" } })).accessToken;
    const agentId = dataOf(Agent, await api(galaxy, "POST", "/api/agents", { token, body: { name: "Echo", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "Repeat." } })).id;
    await api(galaxy, "POST", `/api/agents/${agentId}/activate`, { token });
    // About 400 KB each once completed (the echo model repeats the input): six make 2.4 MB, past
    // the 1 MB a NATS server carries by default.
    const started = new Set<string>();
    for (let i = 0; i < 6; i++) started.add(dataOf(Execution, await api(galaxy, "POST", `/api/agents/${agentId}/executions`, { token, body: { input: { message: `${i}`.repeat(200_000) } } })).id);
    for (const id of started) await eventually(async () => (dataOf(Execution, await api(galaxy, "GET", `/api/executions/${id}`, { token })).status === "completed" ? true : undefined), 30_000, `execution ${id} completed`);
    const first = await api(galaxy, "GET", "/api/executions?limit=20", { token });
    expect(first.status).toBe(200);
    const page = Executions.parse(first.body);
    expect(page.data.length).toBeLessThan(6);
    expect(page.pagination).toMatchObject({ total: 6, offset: 0, limit: page.data.length, hasMore: true });
    // By offset, `limit` at a time, and by cursor: every execution once.
    const byOffset: string[] = [];
    for (let offset = 0, i = 0; offset < 6 && i < 10; i++) {
      const next = Executions.parse((await api(galaxy, "GET", `/api/executions?limit=20&offset=${offset}`, { token })).body);
      byOffset.push(...next.data.map((e) => e.id));
      offset += next.pagination.limit;
    }
    expect(byOffset).toHaveLength(6);
    expect(new Set(byOffset)).toEqual(started);
    const byCursor: string[] = [];
    let cursor = "";
    for (let i = 0; i < 10; i++) {
      const next = Executions.parse((await api(galaxy, "GET", `/api/agents/${agentId}/executions?limit=20&cursor=${encodeURIComponent(cursor)}`, { token })).body);
      byCursor.push(...next.data.map((e) => e.id));
      if (!next.pagination.nextCursor) break;
      cursor = next.pagination.nextCursor;
    }
    expect(byCursor).toEqual(byOffset);
  }, 90_000);
});
