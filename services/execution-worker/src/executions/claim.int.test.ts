import { describe, expect } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { inWorkspace, sql, type Kysely } from "@galaxy/db";
import { serviceDb } from "@galaxy/testkit";
import { test as engineTest } from "@galaxy/testkit/fixtures";
import type { ExecutionDb } from "../db";
import { claimQueuedExecutions, finishExecution, insertExecution, renewLease } from "./executions.repository";
import { setTier } from "../quota/quota.repository";
import { TIERS, type Tier } from "../quota/tiers";

/** `db`: the worker's login-role connection to the file's own database. */
const test = engineTest
  .extend("db", { scope: "file" }, async ({ env }, { onCleanup }): Promise<Kysely<ExecutionDb>> => {
    const db = serviceDb<ExecutionDb>(env, "execution-worker");
    onCleanup(() => db.destroy());
    return db;
  })
  .extend("queue", { scope: "file" }, async ({ db }) => async (workspaceId: string, createdAt: Date): Promise<string> => {
    const id = uuidv7();
    await inWorkspace(db, workspaceId, (tx) =>
      insertExecution(tx, {
        execution: {
          id,
          workspaceId,
          agentId: uuidv7(),
          agentVersion: 1,
          status: "queued",
          trigger: { type: "manual" },
          input: { message: "x" },
          output: null,
          error: null,
          usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0, costUsd: 0 },
          durationMs: null,
          createdAt: createdAt.toISOString(),
          startedAt: null,
          completedAt: null,
        },
        createdBy: "test",
        correlationId: uuidv7(),
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        queuedEventId: uuidv7(),
      }),
    );
    return id;
  })
  .extend("tier", { scope: "file" }, async ({ db }) => async (workspaceId: string, value: Tier): Promise<void> => {
    await inWorkspace(db, workspaceId, (tx) => setTier(tx, workspaceId, value));
  })
  .extend("statusOf", { scope: "file" }, async ({ db }) => async (workspaceId: string, id: string) =>
    inWorkspace(db, workspaceId, (tx) => tx.selectFrom("executions").select(["status", "lease_owner", "attempt"]).where("id", "=", id).executeTakeFirstOrThrow()));

describe("claim_queued_executions", () => {
  test("takes the oldest queued execution of any workspace first", async ({ db, queue }) => {
    const base = Date.now() - 60_000;
    const newer = await queue(uuidv7(), new Date(base + 1_000));
    const older = await queue(uuidv7(), new Date(base));
    const [first] = await claimQueuedExecutions(db, "owner-a", 1, 30_000);
    expect(first?.id).toBe(older);
    const [second] = await claimQueuedExecutions(db, "owner-a", 1, 30_000);
    expect(second?.id).toBe(newer);
    expect(await claimQueuedExecutions(db, "owner-a", 5, 30_000)).toEqual([]);
  });

  test("concurrent claims never take the same execution, and together take them all", async ({ db, queue, tier, statusOf }) => {
    const ws = [uuidv7(), uuidv7()];
    for (const w of ws) await tier(w, "enterprise");
    const ids = new Set<string>();
    for (let i = 0; i < 12; i++) ids.add(await queue(ws[i % 2] ?? "", new Date(Date.now() - 30_000 + i)));
    const claims = await Promise.all([0, 1, 2].map((n) => claimQueuedExecutions(db, `owner-${n}`, 5, 30_000)));
    const taken = claims.flat().map((c) => c.id);
    expect(new Set(taken).size).toBe(taken.length);
    expect(new Set(taken)).toEqual(ids);
    const row = await statusOf(ws[0] ?? "", taken[0] ?? "");
    expect(row.status).toBe("running");
  });

  test("round robin: the oldest of every workspace first, then the second of each, however long one backlog is", async ({ db, queue, tier }) => {
    const busy = uuidv7();
    const quiet = [uuidv7(), uuidv7()];
    for (const w of [busy, ...quiet]) await tier(w, "enterprise");
    const base = Date.now() - 50_000;
    const backlog: string[] = [];
    for (let i = 0; i < 30; i++) backlog.push(await queue(busy, new Date(base + i)));
    // Queued after the whole backlog, each still goes in the first claim.
    const q0 = await queue(quiet[0] ?? "", new Date(base + 1_000));
    const q1a = await queue(quiet[1] ?? "", new Date(base + 2_000));
    const q1b = await queue(quiet[1] ?? "", new Date(base + 3_000));
    const first = (await claimQueuedExecutions(db, "owner-rr", 3, 30_000)).map((c) => c.id);
    expect(new Set(first)).toEqual(new Set([backlog[0], q0, q1a]));
    const second = (await claimQueuedExecutions(db, "owner-rr", 2, 30_000)).map((c) => c.id);
    expect(new Set(second)).toEqual(new Set([backlog[1], q1b]));
    const rest = await claimQueuedExecutions(db, "owner-rr", 100, 30_000);
    expect(rest.map((c) => c.id)).toEqual(backlog.slice(2));
  });

  test("a workspace running fewer goes first: one free place goes to a lone execution, not to an older backlog's", async ({ db, queue, tier }) => {
    const busy = uuidv7();
    const quiet = uuidv7();
    await tier(busy, "enterprise");
    const base = Date.now() - 45_000;
    const backlog: string[] = [];
    for (let i = 0; i < 10; i++) backlog.push(await queue(busy, new Date(base + i)));
    expect((await claimQueuedExecutions(db, "owner-busy", 3, 30_000)).map((c) => c.id)).toEqual(backlog.slice(0, 3));
    const lone = await queue(quiet, new Date(base + 1_000));
    // Busy's next is older, but busy already runs three: the lone execution is at place 1, busy's at place 4.
    expect((await claimQueuedExecutions(db, "owner-busy", 1, 30_000)).map((c) => c.id)).toEqual([lone]);
    expect((await claimQueuedExecutions(db, "owner-busy", 1, 30_000)).map((c) => c.id)).toEqual([backlog[3]]);
    await inWorkspace(db, busy, (tx) => sql`update executions set status = 'cancelled' where status in ('queued', 'running')`.execute(tx));
    await inWorkspace(db, quiet, (tx) => sql`update executions set status = 'cancelled' where status = 'running'`.execute(tx));
  });

  test("a workspace never runs more at once than its tier allows, across claims of every instance", async ({ db, queue, tier }) => {
    const free = uuidv7();
    const pro = uuidv7();
    await tier(pro, "pro");
    for (let i = 0; i < 15; i++) {
      await queue(free, new Date(Date.now() - 40_000 + i));
      await queue(pro, new Date(Date.now() - 40_000 + i));
    }
    const claims = await Promise.all([0, 1, 2, 3].map((n) => claimQueuedExecutions(db, `owner-cap-${n}`, 8, 30_000)));
    const taken = claims.flat();
    expect(taken.filter((c) => c.workspaceId === free)).toHaveLength(TIERS.free.concurrency);
    expect(taken.filter((c) => c.workspaceId === pro)).toHaveLength(TIERS.pro.concurrency);
    // Full: nothing more until one of them ends.
    expect((await claimQueuedExecutions(db, "owner-cap-x", 8, 30_000)).filter((c) => c.workspaceId === free || c.workspaceId === pro)).toEqual([]);
    const one = taken.find((c) => c.workspaceId === free);
    const outcome = { status: "completed" as const, output: { text: "ok" }, error: null, usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2, costUsd: 0 }, durationMs: 1, completedAt: new Date() };
    const owner = `owner-cap-${claims.findIndex((c) => c.some((x) => x.id === one?.id))}`;
    await inWorkspace(db, free, (tx) => finishExecution(tx, one?.id ?? "", owner, outcome));
    const next = await claimQueuedExecutions(db, "owner-cap-x", 8, 30_000);
    expect(next.filter((c) => c.workspaceId === free)).toHaveLength(1);
  });

  test("an execution whose lease expired is taken over, a leased one is not", async ({ db, queue, statusOf }) => {
    const ws = uuidv7();
    const id = await queue(ws, new Date());
    const [claimed] = await claimQueuedExecutions(db, "owner-dead", 1, 30_000);
    expect(claimed?.id).toBe(id);
    expect(await claimQueuedExecutions(db, "owner-alive", 5, 30_000)).toEqual([]);

    await inWorkspace(db, ws, (tx) => sql`update executions set lease_expires_at = now() - interval '1 second' where id = ${id}`.execute(tx));
    const [taken] = await claimQueuedExecutions(db, "owner-alive", 5, 30_000);
    expect(taken).toEqual({ id, workspaceId: ws });
    expect(await statusOf(ws, id)).toEqual({ status: "running", lease_owner: "owner-alive", attempt: 2 });

    // The instance that lost the lease can neither renew it nor record a result.
    expect(await inWorkspace(db, ws, (tx) => renewLease(tx, id, "owner-dead", 30_000))).toBe(false);
    expect(await inWorkspace(db, ws, (tx) => renewLease(tx, id, "owner-alive", 30_000))).toBe(true);
    const outcome = {
      status: "completed" as const,
      output: { text: "late" },
      error: null,
      usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2, costUsd: 0 },
      durationMs: 1,
      completedAt: new Date(),
    };
    expect(await inWorkspace(db, ws, (tx) => finishExecution(tx, id, "owner-dead", outcome))).toBeUndefined();
    expect((await inWorkspace(db, ws, (tx) => finishExecution(tx, id, "owner-alive", outcome)))?.status).toBe("completed");
  });
});
