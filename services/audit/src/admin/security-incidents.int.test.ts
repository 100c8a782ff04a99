import { randomUUID } from "node:crypto";
import { describe, expect } from "vitest";
import { SYSTEM_WORKSPACE_ID } from "@galaxy/contracts";
import { inWorkspace, sql } from "@galaxy/db";
import { appendToChain } from "../chain/chain";
import { readHead } from "../audit-log/audit-log.repository";
import { auditTest } from "../../test/support/audit-fixtures";
import { enterChain, insertEntriesAfter } from "../../test/support/chain-seed";

const wsA = randomUUID();
const wsB = randomUUID();

/**
 * The audit service of the file (audit-fixtures.ts: `db`, audit's login role; `admin`, the
 * owner's view; `gatewayBus`, which makes requests) and, set up once per file:
 * - `record`: appends an entry to a workspace's chain as the audit service would, `minutesAgo` in the past;
 * - `operator`: signs an operator claim of a workspace (the system workspace unless told);
 * - `list`: asks for security incidents with a claim, as the gateway would;
 * - `ids`: the security entries recorded before the file's first test, beside two that are not.
 */
const test = auditTest()
  .extend("record", { scope: "file" }, async ({ db }) => {
    let streamSeq = 0;
    return async (workspaceId: string, action: string, minutesAgo: number): Promise<string> => {
      const id = randomUUID();
      await inWorkspace(db, workspaceId, async (tx) => {
        await enterChain(tx, workspaceId);
        const { head } = await readHead(tx, workspaceId);
        const entry = appendToChain(head, {
          id,
          workspaceId,
          actor: { type: "user", id: randomUUID() },
          action,
          resourceType: "agent",
          resourceId: randomUUID(),
          changes: null,
          ipAddress: "203.0.113.7",
          userAgent: "probe/1.0",
          traceId: null,
          occurredAt: new Date(Date.now() - minutesAgo * 60_000).toISOString(),
        });
        await insertEntriesAfter(tx, workspaceId, head.hash, [{ entry, streamSeq: ++streamSeq }]);
      });
      return id;
    };
  })
  .extend("operator", { scope: "file" }, async ({ claims }) =>
    (ws: string = SYSTEM_WORKSPACE_ID) => claims.sign({ ws, act: "operator", sub: "galaxy-cli", role: "admin" }))
  .extend("list", { scope: "file" }, async ({ audit, auditBus, gatewayBus }) => {
    // The service's subscriptions reach the server before the first request.
    void audit;
    await auditBus.flush();
    return async (query: Record<string, unknown>, claim: string, ws: string = SYSTEM_WORKSPACE_ID) =>
      gatewayBus.request("audit.security_incidents.list", query, { claim, workspaceId: ws });
  })
  .extend("ids", { scope: "file" }, async ({ record }) => {
    const ids = {
      a1: await record(wsA, "security.cross_workspace_attempt", 30),
      b1: await record(wsB, "security.forged_message", 20),
      sys: await record(SYSTEM_WORKSPACE_ID, "security.forged_message", 10),
      a2: await record(wsA, "security.cross_workspace_attempt", 5),
    };
    await record(wsA, "agent.created", 1);
    await record(SYSTEM_WORKSPACE_ID, "user.system_admin_granted", 2);
    return ids;
  });

describe("audit.security_incidents.list", () => {
  // The service runs and the entries are recorded before the first test, whichever fixtures it names.
  test.beforeAll(async ({ list, ids }) => {
    void list;
    void ids;
  });

  test("an operator claim of the system workspace reads every workspace's security entries, and only those, newest first", async ({ ids, list, operator }) => {
    const page = await list({}, await operator());
    expect(page.items.map((e) => e.id)).toEqual([ids.a2, ids.sys, ids.b1, ids.a1]);
    expect(page.pagination).toEqual({ total: 4, limit: 20, offset: 0, hasMore: false, nextCursor: null });
    expect(page.items[0]).toMatchObject({ workspaceId: wsA, action: "security.cross_workspace_attempt", userAgent: "probe/1.0", seq: 2 });
  });

  test("pages and filters by action, workspace and time", async ({ ids, list, operator }) => {
    const claim = await operator();
    const second = await list({ limit: 2, offset: 2 }, claim);
    expect(second.items.map((e) => e.id)).toEqual([ids.b1, ids.a1]);
    expect(second.pagination).toEqual({ total: 4, limit: 2, offset: 2, hasMore: false, nextCursor: null });
    expect((await list({ limit: 1 }, claim)).pagination.hasMore).toBe(true);
    expect((await list({ action: "security.forged_message" }, claim)).items.map((e) => e.id)).toEqual([ids.sys, ids.b1]);
    expect((await list({ workspaceId: wsA }, claim)).items.map((e) => e.id)).toEqual([ids.a2, ids.a1]);
    expect((await list({ workspaceId: SYSTEM_WORKSPACE_ID }, claim)).items.map((e) => e.id)).toEqual([ids.sys]);
    const since = new Date(Date.now() - 15 * 60_000).toISOString();
    expect((await list({ since }, claim)).items.map((e) => e.id)).toEqual([ids.a2, ids.sys]);
    expect((await list({ until: since }, claim)).items.map((e) => e.id)).toEqual([ids.b1, ids.a1]);
    await expect(list({ action: "agent.created" }, claim)).rejects.toMatchObject({ status: 400 });
  });

  test("pages by cursor on (occurredAt, id), in the offset form's order; a cursor under other filters is refused", async ({ ids, list, operator }) => {
    const claim = await operator();
    const first = await list({ limit: 3, cursor: "" }, claim);
    expect(first.items.map((e) => e.id)).toEqual([ids.a2, ids.sys, ids.b1]);
    expect(first.pagination).toMatchObject({ limit: 3, hasMore: true });
    const cursor = String(first.pagination.nextCursor);
    const rest = await list({ limit: 3, cursor }, claim);
    expect(rest.items.map((e) => e.id)).toEqual([ids.a1]);
    expect(rest.pagination).toEqual({ limit: 3, hasMore: false, nextCursor: null });
    await expect(list({ limit: 3, cursor, workspaceId: wsA }, claim)).rejects.toMatchObject({ status: 400, code: "invalid_cursor" });
  });

  test("a user's, a service's, or another workspace's operator claim is refused", async ({ list, operator, claims }) => {
    for (const claim of [await claims.sign({ ws: SYSTEM_WORKSPACE_ID, role: "owner" }), await claims.sign({ ws: SYSTEM_WORKSPACE_ID, act: "service", sub: "audit", role: "admin" })]) {
      await expect(list({}, claim)).rejects.toMatchObject({ status: 403, code: "system_admin_required" });
    }
    await expect(list({}, await operator(wsA), wsA)).rejects.toMatchObject({ status: 403, code: "system_admin_required" });
    await expect(list({}, await claims.sign({ ws: wsA, role: "owner" }), wsA)).rejects.toMatchObject({ status: 403 });
  });

  test("an operator claim reads the system workspace's own log, and no other workspace's", async ({ operator, gatewayBus }) => {
    const log = await gatewayBus.request("audit.logs.list", {}, { claim: await operator(), workspaceId: SYSTEM_WORKSPACE_ID });
    expect(log.items.map((e) => e.action).sort()).toEqual(["security.forged_message", "user.system_admin_granted"]);
    await expect(gatewayBus.request("audit.logs.list", {}, { claim: await operator(wsA), workspaceId: wsA })).rejects.toMatchObject({ status: 403 });
  });

  test("the functions are security definers of the owner role, with their reasons, executable by audit's login role alone", async ({ admin, db }) => {
    const rows = await sql<{ name: string; owner: string; definer: boolean; comment: string | null }>`
      select p.proname as name, pg_get_userbyid(p.proowner) as owner, p.prosecdef as definer, obj_description(p.oid, 'pg_proc') as comment
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = 'audit' and p.proname like 'security_incidents%' order by 1`.execute(admin);
    expect(rows.rows.map((r) => r.name)).toEqual(["security_incidents", "security_incidents_after", "security_incidents_count"]);
    for (const row of rows.rows) {
      expect(row).toMatchObject({ owner: "galaxy_audit_owner", definer: true });
      expect(row.comment).toMatch(/system admins|security-incident list/i);
    }
    // The login role alone still sees one workspace at a time.
    const direct = await db.selectFrom("audit_logs").select("id").execute();
    expect(direct).toEqual([]);
  });
});
