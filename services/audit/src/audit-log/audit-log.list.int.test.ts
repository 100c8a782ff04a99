import { randomUUID } from "node:crypto";
import { describe, expect } from "vitest";
import { GENESIS_HASH } from "../chain/chain";
import { agentOf, USER } from "../../test/support/audit-events";
import { test } from "../../test/support/audit-log-fixtures";

describe("audit.logs.list", () => {
  const ws = randomUUID();
  const other = randomUUID();
  const agent1 = agentOf(ws, "First");
  const agent2 = agentOf(ws, "Second");
  const memberId = randomUUID();
  const at = (second: number) => `2025-03-01T00:00:0${second}.000Z`;

  test.beforeAll(async ({ publish, agentCreated, entriesOf }) => {
    await agentCreated(ws, { occurredAt: at(1) }, agent1);
    await publish(ws, "agent.activated", { agentId: agent1.id, version: 1, status: "active", before: "draft" }, { occurredAt: at(2) });
    await publish(ws, "member.added", { userId: memberId, email: "grace@example.com", role: "member" }, { occurredAt: at(3), actor: { type: "user", id: "other-admin" } });
    await agentCreated(ws, { occurredAt: at(4), actor: { type: "api_key", id: "key-1" } }, agent2);
    await agentCreated(other, { occurredAt: at(1) });
    await entriesOf(ws, 4);
    await entriesOf(other, 1);
  });

  const seqs = (page: { items: Array<{ seq: number }> }) => page.items.map((item) => item.seq);

  test("an admin sees the workspace's entries, newest first", async ({ listAs }) => {
    const page = await listAs(ws, "admin");
    expect(seqs(page)).toEqual([4, 3, 2, 1]);
    expect(page.pagination).toEqual({ total: 4, limit: 20, offset: 0, hasMore: false, nextCursor: null });
    expect(page.items[3]).toMatchObject({
      workspaceId: ws,
      actor: { type: "user", id: USER },
      action: "agent.created",
      resourceType: "agent",
      resourceId: agent1.id,
      changes: { before: null, after: { name: "First" } },
      occurredAt: at(1),
      prevHash: GENESIS_HASH,
    });
    expect(page.items[2]?.changes).toEqual({ before: { status: "draft" }, after: { status: "active" } });
    expect(page.items[3]?.hash).toBe(page.items[2]?.prevHash);
  });

  test("pages with limit and offset", async ({ listAs }) => {
    const page = await listAs(ws, "owner", { limit: 2, offset: 1 });
    expect(seqs(page)).toEqual([3, 2]);
    expect(page.pagination).toEqual({ total: 4, limit: 2, offset: 1, hasMore: true, nextCursor: expect.any(String) });
    expect(seqs(await listAs(ws, "owner", { limit: 2, offset: 2 }))).toEqual([2, 1]);
  });

  test("filters by action, resource, actor and time", async ({ listAs }) => {
    expect(seqs(await listAs(ws, "admin", { action: "agent.created" }))).toEqual([4, 1]);
    expect(seqs(await listAs(ws, "admin", { resourceType: "agent", resourceId: agent1.id }))).toEqual([2, 1]);
    expect(seqs(await listAs(ws, "admin", { resourceType: "member" }))).toEqual([3]);
    expect(seqs(await listAs(ws, "admin", { actorId: "key-1" }))).toEqual([4]);
    const window = await listAs(ws, "admin", { since: at(2), until: at(4) });
    expect(seqs(window)).toEqual([3, 2]);
    expect(window.pagination.total).toBe(2);
    expect(seqs(await listAs(ws, "admin", { action: "agent.created", since: at(2) }))).toEqual([4]);
  });

  test("viewers and members may not read it", async ({ listAs }) => {
    await expect(listAs(ws, "viewer")).rejects.toMatchObject({ status: 403, code: "forbidden" });
    await expect(listAs(ws, "member")).rejects.toMatchObject({ status: 403, code: "forbidden" });
  });

  test("never shows another workspace's entries", async ({ listAs }) => {
    const page = await listAs(other, "owner");
    expect(page.items.map((item) => item.workspaceId)).toEqual([other]);
    const probe = await listAs(other, "owner", { resourceId: agent1.id });
    expect(probe).toEqual({ items: [], pagination: { total: 0, limit: 20, offset: 0, hasMore: false, nextCursor: null } });
  });

  test("refuses a request without a claim, and bad filters", async ({ listAs, gatewayBus }) => {
    await expect(gatewayBus.request("audit.logs.list", {})).rejects.toMatchObject({ status: 401 });
    await expect(listAs(ws, "admin", { limit: 1000 })).rejects.toMatchObject({ status: 400, details: { limit: expect.any(String) } });
    await expect(listAs(ws, "admin", { since: "yesterday" })).rejects.toMatchObject({ status: 400, details: { since: expect.any(String) } });
  });
});
