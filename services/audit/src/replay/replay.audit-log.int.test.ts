import { randomUUID } from "node:crypto";
import { describe, expect } from "vitest";
import { GalaxyError, SYSTEM_WORKSPACE_ID } from "@galaxy/contracts";
import { USER } from "../../test/support/audit-events";
import { eventually, replayTest } from "../../test/support/replay-fixtures";

/** An operator replays the audit log into itself: a plain replay, a reset that rebuilds, a dry run, bounds. */
const test = replayTest();

describe("replay to the audit log", () => {
  const wsA = randomUUID();
  const wsB = randomUUID();

  test("replaying changes nothing; reset after the rows are deleted rebuilds identical seq and hash values; events during the rebuild appear once, after it; the other workspace is untouched", async ({ asOperator, publishAgent, rowsOf, rowCount, replay, countEvents, admin, audit, gatewayBus }) => {
    for (let i = 0; i < 20; i++) await publishAgent(wsA, `a-${i}`);
    for (let i = 0; i < 5; i++) await publishAgent(wsB, `b-${i}`);
    await rowCount(wsA, 20);
    await rowCount(wsB, 5);
    const before = await rowsOf(wsA);
    const other = await rowsOf(wsB);

    // 1. Replaying what audit already has changes nothing.
    const plain = await replay({ target: "audit", workspaceId: wsA });
    expect(plain).toMatchObject({ status: "completed", subject: `evt.${wsA}.>`, matched: 20, applied: 20, skipped: 0, failed: 0 });
    expect(await rowsOf(wsA)).toEqual(before);

    // 2. The workspace's rows are lost (straight in Postgres).
    await admin.deleteFrom("audit_logs").where("workspace_id", "=", wsA).execute();
    expect(await rowsOf(wsA)).toEqual([]);

    // 3. A slow rebuild (10 events a second), with live events published while it runs.
    const accepted = await gatewayBus.request("audit.replays.start", { target: "audit", workspaceId: wsA, reset: true, ratePerSec: 10 }, asOperator());
    await eventually(async () => (await gatewayBus.request("audit.replays.get", { id: accepted.id }, asOperator())).applied >= 3, "the rebuild to be under way");
    const live = [];
    for (let i = 0; i < 5; i++) live.push(await publishAgent(wsA, `live-${i}`));
    const done = await eventually(async () => {
      const run = await gatewayBus.request("audit.replays.get", { id: accepted.id }, asOperator());
      return run.status === "running" ? null : run;
    }, "the rebuild to finish");
    expect(done).toMatchObject({ status: "completed", reset: true, matched: 20, applied: 20, failed: 0, etaSeconds: 0 });

    await rowCount(wsA, 25);
    const after = await rowsOf(wsA);
    expect(after.slice(0, 20)).toEqual(before);
    expect(after.slice(20).map((r) => r.id)).toEqual(live.map((e) => e.id));
    expect(after.map((r) => r.seq)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    for (let i = 1; i < after.length; i++) expect(after[i]?.prev_hash).toBe(after[i - 1]?.hash);
    expect(await audit.verifyWorkspace(wsA)).toMatchObject({ valid: true, entries: 25 });
    expect(await rowsOf(wsB)).toEqual(other);
    // Nothing waits any more, and nothing was re-published into EVENTS.
    expect(await audit.operator.holds.holder(wsA)).toBeNull();
    expect(await countEvents(`evt.${wsA}.>`)).toBe(25);

    // Both replays are in the system workspace's audit log.
    const system = await eventually(async () => {
      const rows = await admin.selectFrom("audit_logs").select(["action", "resource_id"]).where("workspace_id", "=", SYSTEM_WORKSPACE_ID).where("resource_id", "=", accepted.id).execute();
      return rows.length === 2 ? rows : null;
    }, "replay.started and replay.completed in the system workspace");
    expect(system.map((r) => r.action).sort()).toEqual(["replay.completed", "replay.started"]);
  });

  test("a dry run counts and changes nothing", async ({ rowsOf, replay }) => {
    const before = await rowsOf(wsA);
    const run = await replay({ target: "audit", workspaceId: wsA, dryRun: true });
    expect(run).toMatchObject({ status: "completed", dryRun: true, matched: 25, applied: 0, skipped: 25 });
    expect(await rowsOf(wsA)).toEqual(before);
  });

  test("bounds: fromSeq and toSeq read only that stretch of the stream", async ({ rowsOf, replay }) => {
    const rows = await rowsOf(wsB);
    const from = rows[1]?.stream_seq ?? 0;
    const to = rows[3]?.stream_seq ?? 0;
    const run = await replay({ target: "audit", workspaceId: wsB, fromSeq: from, toSeq: to, dryRun: true });
    expect(run).toMatchObject({ status: "completed", matched: 3, endSeq: to });
  });

  test("replays are listed newest first; a target outside the catalog, or reset without a workspace, is a 400", async ({ asOperator, audit, gatewayBus }) => {
    const page = await gatewayBus.request("audit.replays.list", { limit: 2, offset: 0 }, asOperator());
    expect(page.items).toHaveLength(2);
    expect(page.pagination.total).toBeGreaterThanOrEqual(4);
    await expect(gatewayBus.request("audit.replays.start", { target: "registry" }, asOperator())).rejects.toMatchObject({ status: 400 });
    await expect(gatewayBus.request("audit.replays.start", { target: "audit", reset: true }, asOperator())).rejects.toMatchObject({ status: 400 });
    // A reset empties the whole chain: rebuilding only up to a bound would lose the rest.
    for (const bound of [{ toSeq: 5 }, { until: new Date().toISOString() }]) {
      const refused = await gatewayBus.request("audit.replays.start", { target: "audit", workspaceId: wsB, reset: true, ...bound }, asOperator()).catch((e: unknown) => e);
      expect(refused).toMatchObject({ status: 400, code: "validation_failed" });
      expect(JSON.stringify(refused)).toContain("give no until or toSeq");
    }
    expect(await audit.operator.holds.holder(wsB)).toBeNull();
  });

  test("a workspace claim, even an owner's, is refused (403)", async ({ gatewayBus, claims }) => {
    const owner = await claims.sign({ ws: wsA, sub: USER, act: "user", role: "owner" });
    const refused = await gatewayBus.request("audit.replays.start", { target: "audit", workspaceId: wsA }, { claim: owner, workspaceId: wsA }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(GalaxyError);
    expect(refused).toMatchObject({ status: 403, code: "system_admin_required" });
    await expect(gatewayBus.request("audit.dead_letters.list", { limit: 20, offset: 0 }, { claim: owner, workspaceId: wsA })).rejects.toMatchObject({ status: 403 });
  });
});
