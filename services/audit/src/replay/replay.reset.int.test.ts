import { randomUUID } from "node:crypto";
import { describe, expect } from "vitest";
import type { StoredEvent } from "@galaxy/bus";
import { SYSTEM_WORKSPACE_ID, type ReplayRun } from "@galaxy/contracts";
import { sql } from "@galaxy/db";
import { eventually, replayTest } from "../../test/support/replay-fixtures";

/** A reset holds the workspace while it rebuilds its chain; live events wait. */
const test = replayTest();

describe("reset", () => {
  test("the end is read after the hold: a live event applied just before the hold, then dropped, is rebuilt", async ({ publishAgent, rowsOf, rowCount, replay, audit }) => {
    const ws = randomUUID();
    for (let i = 0; i < 3; i++) await publishAgent(ws, `r-${i}`);
    await rowCount(ws, 3);
    const holds = audit.operator.holds;
    const hold = holds.hold.bind(holds);
    let racing: StoredEvent | undefined;
    // Between the request arriving and the hold, a live event of the workspace is applied; the reset then drops it.
    holds.hold = async (workspaceId, replayId) => {
      racing = await publishAgent(ws, "racing");
      await rowCount(ws, 4);
      await hold(workspaceId, replayId);
    };
    let run: ReplayRun;
    try {
      run = await replay({ target: "audit", workspaceId: ws, reset: true });
    } finally {
      holds.hold = hold;
    }
    expect(run).toMatchObject({ status: "completed", matched: 4, applied: 4, failed: 0 });
    const rows = await rowsOf(ws);
    expect(rows.map((r) => r.id)).toContain(racing?.id);
    expect(rows).toHaveLength(4);
    expect(await audit.verifyWorkspace(ws)).toMatchObject({ valid: true, entries: 4 });
  });

  test("a cancelled reset keeps the workspace held: live events wait instead of landing on a part-built chain; the reset run again rebuilds and releases", async ({ asOperator, publishAgent, rowsOf, rowCount, deferredOf, replay, audit, gatewayBus }) => {
    const ws = randomUUID();
    for (let i = 0; i < 6; i++) await publishAgent(ws, `c-${i}`);
    await rowCount(ws, 6);
    const before = await rowsOf(ws);
    const accepted = await gatewayBus.request("audit.replays.start", { target: "audit", workspaceId: ws, reset: true, ratePerSec: 2 }, asOperator());
    await eventually(async () => (await gatewayBus.request("audit.replays.get", { id: accepted.id }, asOperator())).applied >= 1, "the rebuild to be under way");
    await gatewayBus.request("audit.replays.cancel", { id: accepted.id }, asOperator());
    const cancelled = await eventually(async () => {
      const run = await gatewayBus.request("audit.replays.get", { id: accepted.id }, asOperator());
      return run.status === "running" ? null : run;
    }, "the cancel");
    expect(cancelled.status).toBe("cancelled");
    expect(cancelled.error).toContain("stays held");
    expect(await audit.operator.holds.holder(ws)).toBe(accepted.id);
    const partial = (await rowsOf(ws)).length;
    expect(partial).toBeLessThan(6);

    const live = await publishAgent(ws, "live");
    await eventually(async () => (await deferredOf(ws)) === 1, "the live event kept aside");
    expect(await rowsOf(ws)).toHaveLength(partial);

    const again = await replay({ target: "audit", workspaceId: ws, reset: true });
    expect(again).toMatchObject({ status: "completed", error: null, matched: 7 });
    const after = await rowsOf(ws);
    expect(after.slice(0, 6)).toEqual(before);
    expect(after.map((r) => r.id)).toEqual([...before.map((r) => r.id), live.id]);
    expect(await audit.operator.holds.holder(ws)).toBeNull();
    expect(await deferredOf(ws)).toBe(0);
    expect(await audit.verifyWorkspace(ws)).toMatchObject({ valid: true, entries: 7 });
  });

  test("audit.replay_reset refuses the login role unless a running reset holds the workspace, and never empties a pruned chain", async ({ asOperator, publishAgent, rowsOf, rowCount, replay, db, admin, audit, gatewayBus }) => {
    const ws = randomUUID();
    for (let i = 0; i < 3; i++) await publishAgent(ws, `g-${i}`);
    await rowCount(ws, 3);
    const before = await rowsOf(ws);
    const resetAsLogin = () => sql`select audit.replay_reset(${ws}::uuid) as removed`.execute(db);

    // No replay: refused.
    await expect(resetAsLogin()).rejects.toThrow(/refused: no running reset replay/);
    // A running reset replay that does not hold the workspace: refused.
    const runId = randomUUID();
    await admin
      .insertInto("replay_runs")
      .values({ id: runId, workspace_id: SYSTEM_WORKSPACE_ID, target: "audit", subject: `evt.${ws}.>`, filter_workspace_id: ws, dry_run: false, reset: true, status: "running", requested_by: "test" })
      .execute();
    await expect(resetAsLogin()).rejects.toThrow(/refused: no running reset replay/);
    expect(await rowsOf(ws)).toEqual(before);

    // Retention removed the first entry (its checkpoint stands in for it): a reset is refused,
    // even while held, and the checkpoint stays.
    await admin.deleteFrom("audit_logs").where("workspace_id", "=", ws).where("seq", "=", 1).execute();
    await admin.insertInto("audit_checkpoints").values({ workspace_id: ws, seq: 1, hash: before[0]?.hash ?? "" }).execute();
    await sql`insert into audit.replay_holds (workspace_id, consumer, replay_id) values (${ws}, 'audit', ${runId})`.execute(admin);
    await expect(resetAsLogin()).rejects.toThrow(/refused: retention has pruned/);
    await sql`delete from audit.replay_holds where workspace_id = ${ws}`.execute(admin);
    await admin.updateTable("replay_runs").set({ status: "failed" }).where("id", "=", runId).execute();

    // Through a replay: a clear 409, nothing held or dropped.
    const refused = await gatewayBus.request("audit.replays.start", { target: "audit", workspaceId: ws, reset: true }, asOperator()).catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 409, code: "audit_chain_pruned" });
    expect(await audit.operator.holds.holder(ws)).toBeNull();
    expect(await rowsOf(ws)).toEqual(before.slice(1));
    expect(await admin.selectFrom("audit_checkpoints").select(["seq"]).where("workspace_id", "=", ws).execute()).toEqual([{ seq: 1 }]);
    expect(await audit.verifyWorkspace(ws)).toMatchObject({ valid: true, entries: 2 });
  });
});
