import { describe, expect } from "vitest";
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { Agent, CreatedTrigger, ErrorBody, Execution, Pagination, SignupResult } from "@galaxy/contracts";
import { signWebhook } from "@galaxy/webhooks";
import { galaxyTest, startGalaxyFirst } from "./fixtures";
import { api, dataOf, eventually, type Galaxy } from "./harness";

/**
 * `GET /api/executions` and an agent's list filtered by trigger type and creation time, by the
 * API (docs/api.md, Executions): three manual runs and two webhook deliveries.
 */

const Executions = z.object({ data: z.array(Execution), pagination: Pagination });

async function deliver(galaxy: Galaxy, triggerId: string, secret: string, payload: unknown): Promise<void> {
  const id = `msg_${randomUUID()}`;
  const timestamp = Math.floor(Date.now() / 1000);
  const body = JSON.stringify(payload);
  const response = await api(galaxy, "POST", `/hooks/${triggerId}`, {
    body,
    headers: { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signWebhook(secret, id, timestamp, body) },
  });
  expect(response.status).toBe(202);
}

/**
 * Set up before the first test: `token`, of a workspace whose active agent `agentId` ran three
 * times by hand (`manual`) and twice by webhook (`webhookIds`, once both executions exist).
 * `list`: a list of executions, as the workspace.
 */
const test = galaxyTest()
  .extend("token", { scope: "file", auto: true }, async ({ galaxy }) =>
    dataOf(SignupResult, await api(galaxy, "POST", "/api/auth/signup", { body: { email: "filters@example.com", password: "correct horse battery", name: "Fil", workspaceName: "Filters" } })).accessToken)
  .extend("list", { scope: "file" }, async ({ galaxy, token }) => async (path: string): Promise<z.infer<typeof Executions>> => {
    const response = await api(galaxy, "GET", path, { token });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return Executions.parse(response.body);
  })
  .extend("agentId", { scope: "file", auto: true }, async ({ galaxy, token }) => {
    const agentId = dataOf(Agent, await api(galaxy, "POST", "/api/agents", { token, body: { name: "Echo", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "Repeat." } })).id;
    await api(galaxy, "POST", `/api/agents/${agentId}/activate`, { token });
    return agentId;
  })
  .extend("manual", { scope: "file", auto: true }, async ({ galaxy, token, agentId }) => {
    const manual: Execution[] = [];
    for (let i = 0; i < 3; i++) manual.push(dataOf(Execution, await api(galaxy, "POST", `/api/agents/${agentId}/executions`, { token, body: { input: { message: `m${i}` } } })));
    return manual;
  })
  .extend("webhookIds", { scope: "file", auto: true }, async ({ galaxy, token, agentId, list }) => {
    const trigger = dataOf(CreatedTrigger, await api(galaxy, "POST", `/api/agents/${agentId}/triggers`, { token, body: { type: "webhook" } }));
    for (let i = 0; i < 2; i++) await deliver(galaxy, trigger.id, trigger.secret ?? "", { message: `w${i}` });
    return eventually(async () => {
      const page = await list("/api/executions?triggerType=webhook");
      return page.data.length === 2 ? page.data.map((e) => e.id) : undefined;
    }, 15_000, "both deliveries to start an execution");
  });
startGalaxyFirst(test);

// The set-up waits for the deliveries' executions: it runs before the first test, under the hooks' time limit.
test.beforeAll(async ({ webhookIds }) => {
  void webhookIds;
});

describe("filtering executions by the API", () => {
  test("by trigger type: each type lists its own executions and counts them", async ({ manual, list }) => {
    const manualPage = await list("/api/executions?triggerType=manual");
    expect(manualPage.data.map((e) => e.id)).toEqual(manual.map((e) => e.id).reverse());
    expect(manualPage.pagination.total).toBe(3);
    const webhookPage = await list("/api/executions?triggerType=webhook");
    expect(webhookPage.data.every((e) => e.trigger.type === "webhook")).toBe(true);
    expect(webhookPage.pagination.total).toBe(2);
    expect((await list("/api/executions?triggerType=schedule")).data).toEqual([]);
    expect((await list("/api/executions")).pagination.total).toBe(5);
  });

  test("by creation time: createdAfter includes its instant, createdBefore excludes it", async ({ manual, list }) => {
    const [first, second, third] = manual.map((e) => e.createdAt);
    const after = await list(`/api/executions?triggerType=manual&createdAfter=${encodeURIComponent(second ?? "")}`);
    expect(after.data.map((e) => e.createdAt)).toEqual([third, second]);
    const before = await list(`/api/executions?createdBefore=${encodeURIComponent(second ?? "")}`);
    expect(before.data.map((e) => e.createdAt)).toEqual([first]);
    const window = await list(`/api/executions?createdAfter=${encodeURIComponent(second ?? "")}&createdBefore=${encodeURIComponent(third ?? "")}`);
    expect(window.data.map((e) => e.id)).toEqual([manual[1]?.id]);
    const inOffset = await list(`/api/executions?createdAfter=${encodeURIComponent(new Date(Date.parse(first ?? "") - 3_600_000).toISOString().replace("Z", "+00:00"))}`);
    expect(inOffset.pagination.total).toBe(5);
  });

  test("the filters page by cursor too, and an agent's list takes them", async ({ agentId, manual, webhookIds, list }) => {
    const pages: string[][] = [];
    let cursor = "";
    for (let i = 0; i < 10; i++) {
      const page = await list(`/api/executions?triggerType=manual&limit=2&cursor=${encodeURIComponent(cursor)}`);
      pages.push(page.data.map((e) => e.id));
      cursor = page.pagination.nextCursor ?? "";
      if (!page.pagination.nextCursor) break;
    }
    expect(pages).toEqual([[manual[2]?.id, manual[1]?.id], [manual[0]?.id]]);
    const agentPage = await list(`/api/agents/${agentId}/executions?triggerType=webhook`);
    expect(agentPage.data.map((e) => e.id).sort()).toEqual([...webhookIds].sort());
  });

  test("bad values are a 400 naming the field, and a cursor of other filters is refused", async ({ galaxy, token, agentId, list }) => {
    const cases: Array<[string, string]> = [
      ["/api/executions?triggerType=cron", "triggerType"],
      ["/api/executions?createdAfter=yesterday", "createdAfter"],
      ["/api/executions?createdBefore=2026-12-01", "createdBefore"],
      [`/api/agents/${agentId}/executions?createdAfter=not-a-time`, "createdAfter"],
      ["/api/executions?createdAfter=2026-12-02T00:00:00Z&createdBefore=2026-12-01T00:00:00Z", "createdAfter"],
    ];
    for (const [path, field] of cases) {
      const response = await api(galaxy, "GET", path, { token });
      expect(response.status, path).toBe(400);
      const body = ErrorBody.parse(response.body);
      expect(body.code, path).toBe("validation_failed");
      expect(Object.keys(body.details ?? {}), path).toContain(`querystring.${field}`);
    }
    const first = await list("/api/executions?triggerType=manual&limit=1&cursor=");
    const response = await api(galaxy, "GET", `/api/executions?triggerType=webhook&cursor=${first.pagination.nextCursor ?? ""}`, { token });
    expect(ErrorBody.parse(response.body).code).toBe("invalid_cursor");
  });
});
