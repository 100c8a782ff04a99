import { randomUUID } from "node:crypto";
import { describe, expect } from "vitest";
import type { TypedEvent } from "@galaxy/contracts";
import { inWorkspace, sql } from "@galaxy/db";
import { testLogger } from "@galaxy/testkit";
import { GENESIS_HASH, GENESIS_HEAD, appendToChain } from "../chain/chain";
import { GOLDEN_HASHES, GOLDEN_WORKSPACE, goldenSources } from "../../test/support/golden.fixture";
import { test as auditLogTest } from "../../test/support/audit-log-fixtures";
import { AuditLogService, type AuditMessage } from "./audit-log.service";

const test = auditLogTest
  /** An audit log service on the file's database with nothing in memory (another instance, or a restart). */
  .extend("newLog", { scope: "file" }, async ({ db }) => () => new AuditLogService({ db, logger: testLogger("audit") }))
  /** What a replay with reset sets up first (docs/replay.md): its running run, and its hold of the workspace. */
  .extend("heldForReset", { scope: "file" }, async ({ admin }) => async (workspaceId: string): Promise<void> => {
    const id = randomUUID();
    await sql`insert into audit.replay_runs (id, workspace_id, target, subject, filter_workspace_id, dry_run, reset, status, requested_by)
              values (${id}, '00000000-0000-0000-0000-000000000000', 'audit', ${`evt.${workspaceId}.>`}, ${workspaceId}, false, true, 'running', 'test')`.execute(admin);
    await sql`insert into audit.replay_holds (workspace_id, consumer, replay_id) values (${workspaceId}, 'audit', ${id})`.execute(admin);
  })
  .extend("prune", { scope: "file" }, async ({ db }) => (workspaceId: string, throughSeq: number) =>
    sql<{ removed: string }>`select audit.retention_prune(${workspaceId}::uuid, ${throughSeq}::bigint) as removed`.execute(db).then((r) => Number(r.rows[0]?.removed)));


let streamSeq = 1_000;

/** A message as the consumer hands it over: an `agent.activated` event of the workspace, next in the stream. */
function message(workspaceId: string, occurredAt = new Date().toISOString()): AuditMessage {
  const event: TypedEvent = {
    id: randomUUID(),
    type: "agent.activated",
    occurredAt,
    workspaceId,
    actor: { type: "user", id: randomUUID() },
    data: { agentId: randomUUID(), version: 1, status: "active", before: "draft" },
  };
  return { event, headers: { traceparent: `00-${randomUUID().replaceAll("-", "")}-00f067aa0ba902b7-01`, clientIp: "203.0.113.7", userAgent: "vitest" }, streamSeq: streamSeq++ };
}

describe("applyEvents", () => {
  test("stores the golden events as the pinned chain, and applying them again changes nothing", async ({ newLog, rowsOf }) => {
    const log = newLog();
    const batch = goldenSources().map((source, i) => ({ ...source, streamSeq: i + 1 }));
    const results = await log.applyEvents(batch);
    expect(results.map((r) => r.appended)).toEqual(batch.map(() => true));
    const rows = await rowsOf(GOLDEN_WORKSPACE);
    expect(rows.map((r) => r.hash)).toEqual(GOLDEN_HASHES);
    expect(rows[0]?.prev_hash).toBe(GENESIS_HASH);
    expect(await log.verifyWorkspace(GOLDEN_WORKSPACE)).toEqual({ valid: true, entries: 7, head: { seq: 7, hash: GOLDEN_HASHES[6] } });

    // A redelivery, or a replay, through another instance with nothing in memory.
    expect((await newLog().applyEvents(batch)).map((r) => r.appended)).toEqual(batch.map(() => false));
    expect(await rowsOf(GOLDEN_WORKSPACE)).toEqual(rows);
  });

  test("a batch spanning workspaces appends each event to its own chain, in order, once", async ({ newLog, rowsOf }) => {
    const [a, b] = [randomUUID(), randomUUID()];
    const [a1, b1, a2, b2] = [message(a), message(b), message(a), message(b)];
    const results = await newLog().applyEvents([a1, b1, a2, { ...a1, streamSeq: streamSeq++ }, b2]);
    expect(results.map((r) => (r.appended ? r.entry.seq : "recorded"))).toEqual([1, 1, 2, "recorded", 2]);
    expect((await rowsOf(a)).map((r) => [r.seq, r.id])).toEqual([[1, a1.event.id], [2, a2.event.id]]);
    expect((await rowsOf(b)).map((r) => [r.seq, r.id])).toEqual([[1, b1.event.id], [2, b2.event.id]]);
  });

  test("a head kept in memory that another instance moved is read again, never forked from", async ({ newLog, rowsOf }) => {
    const ws = randomUUID();
    const first = newLog();
    const second = newLog();
    await first.applyEvents([message(ws)]);
    await second.applyEvents([message(ws), message(ws)]);
    // `first` still believes the chain ends at seq 1.
    const [result] = await first.applyEvents([message(ws)]);
    expect(result).toMatchObject({ appended: true, entry: { seq: 4 } });
    expect((await rowsOf(ws)).map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    expect(await first.verifyWorkspace(ws)).toMatchObject({ valid: true, entries: 4 });
  });

  // Live events reach one instance at a time (the consumer lock: ingest-lock.int.test.ts and
  // audit-log.int.test.ts); two writers at once are a replay beside the live consumer.
  test("two writers applying batches over the same workspaces at once make unbroken chains", async ({ newLog, rowsOf }) => {
    const workspaces = Array.from({ length: 5 }, () => randomUUID());
    const [first, second] = [newLog(), newLog()];
    const batchOf = (order: readonly string[]) => Array.from({ length: 40 }, (_, i) => message(order[i % order.length] ?? ""));
    const batches = Array.from({ length: 6 }, (_, i) => batchOf(i % 2 === 0 ? workspaces : [...workspaces].reverse()));
    await Promise.all([
      (async () => {
        for (const batch of batches.slice(0, 3)) await first.applyEvents(batch);
      })(),
      (async () => {
        for (const batch of batches.slice(3)) await second.applyEvents(batch);
      })(),
    ]);
    for (const ws of workspaces) {
      expect((await rowsOf(ws)).map((r) => r.seq)).toEqual(Array.from({ length: 48 }, (_, i) => i + 1));
      expect(await newLog().verifyWorkspace(ws)).toMatchObject({ valid: true, entries: 48 });
    }
  });

  test("a failed batch forgets the head and records nothing of that workspace", async ({ newLog, rowsOf }) => {
    const ws = randomUUID();
    const log = newLog();
    await log.applyEvents([message(ws)]);
    // Year 0 is a valid ISO time that Postgres refuses: the whole batch of the workspace fails.
    await expect(log.applyEvents([message(ws), message(ws, "0000-01-01T00:00:00Z")])).rejects.toMatchObject({ code: "unauditable_event" });
    expect((await rowsOf(ws)).map((r) => r.seq)).toEqual([1]);
    const [next] = await log.applyEvents([message(ws)]);
    expect(next).toMatchObject({ appended: true, entry: { seq: 2 } });
  });
});

describe("resetWorkspace (audit.replay_reset)", () => {
  test("empties one workspace's chain; applying its events again rebuilds the same hashes", async ({ newLog, heldForReset, rowsOf }) => {
    const [ws, other] = [randomUUID(), randomUUID()];
    const log = newLog();
    const events = [message(ws), message(ws), message(ws)];
    await log.applyEvents([...events, message(other)]);
    const before = await rowsOf(ws);
    const otherBefore = await rowsOf(other);

    await heldForReset(ws);
    expect(await log.resetWorkspace(ws)).toBe(3);
    expect(await rowsOf(ws)).toEqual([]);
    expect(await rowsOf(other)).toEqual(otherBefore);

    await log.applyEvents(events);
    const rebuilt = await rowsOf(ws);
    expect(rebuilt.map((r) => [r.id, r.seq, r.hash, r.prev_hash])).toEqual(before.map((r) => [r.id, r.seq, r.hash, r.prev_hash]));
  });

  test("another instance's head in memory does not survive a reset", async ({ newLog, heldForReset }) => {
    const ws = randomUUID();
    const live = newLog();
    await live.applyEvents([message(ws), message(ws)]);
    await heldForReset(ws);
    await newLog().resetWorkspace(ws);
    // `live` still believes the chain ends at seq 2: the insert sees otherwise.
    const [result] = await live.applyEvents([message(ws)]);
    expect(result).toMatchObject({ appended: true, entry: { seq: 1, prevHash: GENESIS_HASH } });
  });
});

describe("the login role removes entries only through the two functions", () => {
  function oldChain(workspaceId: string, length: number, occurredAt: (n: number) => string) {
    let head = GENESIS_HEAD;
    return Array.from({ length }, (_, i) => {
      const entry = appendToChain(head, {
        id: randomUUID(), workspaceId, actor: { type: "service", id: "test" }, action: "agent.activated", resourceType: "agent", resourceId: `agent-${i}`,
        changes: null, ipAddress: null, userAgent: null, traceId: null, occurredAt: occurredAt(i + 1),
      });
      head = entry;
      return entry;
    });
  }

  test("retention_prune removes a prefix and sets the checkpoint to its last entry", async ({ newLog, prune, rowsOf, storeChain, admin }) => {
    const ws = randomUUID();
    const chain = oldChain(ws, 5, (n) => `2025-01-0${n}T00:00:00.000Z`);
    await storeChain(ws, chain);
    expect(await prune(ws, 3)).toBe(3);
    expect((await rowsOf(ws)).map((r) => r.seq)).toEqual([4, 5]);
    expect(await admin.selectFrom("audit_checkpoints").select(["seq", "hash"]).where("workspace_id", "=", ws).execute()).toEqual([{ seq: 3, hash: chain[2]?.hash }]);
    expect(await newLog().verifyWorkspace(ws)).toEqual({ valid: true, entries: 2, head: { seq: 5, hash: chain[4]?.hash } });
    // A seq that is no longer (or never was) an entry removes nothing.
    expect(await prune(ws, 2)).toBe(0);
    expect(await prune(ws, 9)).toBe(0);
    expect((await rowsOf(ws)).map((r) => r.seq)).toEqual([4, 5]);
  });

  test("retention_prune never removes entries younger than the shortest retention (30 days)", async ({ prune, rowsOf, storeChain, admin }) => {
    const ws = randomUUID();
    const young = new Date(Date.now() - 29 * 24 * 3600 * 1000).toISOString();
    const chain = oldChain(ws, 3, (n) => (n === 2 ? young : "2025-01-01T00:00:00.000Z"));
    await storeChain(ws, chain);
    expect(await prune(ws, 2)).toBe(0);
    expect(await prune(ws, 3)).toBe(0);
    expect((await rowsOf(ws)).map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(await admin.selectFrom("audit_checkpoints").selectAll().where("workspace_id", "=", ws).execute()).toEqual([]);
    expect(await prune(ws, 1)).toBe(1);
  });

  test("inside a workspace the login role still may not delete, and may not write checkpoints", async ({ newLog, rowsOf, db }) => {
    const ws = randomUUID();
    await newLog().applyEvents([message(ws)]);
    await expect(inWorkspace(db, ws, (tx) => tx.deleteFrom("audit_logs").where("workspace_id", "=", ws).execute())).rejects.toMatchObject({ code: "42501" });
    await expect(inWorkspace(db, ws, (tx) => tx.insertInto("audit_checkpoints").values({ workspace_id: ws, seq: 1, hash: "a".repeat(64) }).execute())).rejects.toMatchObject({ code: "42501" });
    expect(await rowsOf(ws)).toHaveLength(1);
  });
});
