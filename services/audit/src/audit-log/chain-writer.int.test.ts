import { randomUUID } from "node:crypto";
import { describe, expect } from "vitest";
import type { TypedEvent } from "@galaxy/contracts";
import { sql } from "@galaxy/db";
import { testLogger } from "@galaxy/testkit";
import { GENESIS_HASH, appendToChain } from "../chain/chain";
import { auditTest } from "../../test/support/audit-fixtures";
import { appendEntries } from "./append-entries";
import { AuditLogService, type AuditMessage } from "./audit-log.service";

// The write path of docs/audit-chain.md "Ingest": one `audit.append_entries` statement per batch.

const test = auditTest()
  /** An audit log service on the file's database with nothing in memory (another instance, or a restart). */
  .extend("newLog", { scope: "file" }, async ({ db }) => () => new AuditLogService({ db, logger: testLogger("audit") }))
  .extend("rowsOf", { scope: "file" }, async ({ admin }) => async (workspaceId: string) =>
    admin.selectFrom("audit_logs").select(["id", "seq", "stream_seq", "hash"]).where("workspace_id", "=", workspaceId).orderBy("seq").execute())
  .extend("expectChain", { scope: "file" }, async ({ rowsOf, newLog }) => async (workspaceId: string, ids: readonly string[]): Promise<void> => {
    const rows = await rowsOf(workspaceId);
    expect(rows.map((r) => r.seq)).toEqual(ids.map((_, i) => i + 1));
    expect(rows.map((r) => r.id)).toEqual(ids);
    // Stream order is chain order.
    expect(rows.map((r) => Number(r.stream_seq))).toEqual([...rows.map((r) => Number(r.stream_seq))].sort((a, b) => a - b));
    expect(await newLog().verifyWorkspace(workspaceId)).toMatchObject({ valid: true, entries: ids.length });
  });

let streamSeq = 1;

function message(workspaceId: string): AuditMessage {
  const event: TypedEvent = {
    id: randomUUID(),
    type: "agent.activated",
    occurredAt: new Date().toISOString(),
    workspaceId,
    actor: { type: "user", id: randomUUID() },
    data: { agentId: randomUUID(), version: 1, status: "active", before: "draft" },
  };
  return { event, headers: { traceparent: `00-${randomUUID().replaceAll("-", "")}-00f067aa0ba902b7-01`, clientIp: undefined, userAgent: undefined }, streamSeq: streamSeq++ };
}

/** `count` events spread over the workspaces round robin, in stream order. */
function interleaved(workspaces: readonly string[], count: number): AuditMessage[] {
  return Array.from({ length: count }, (_, i) => message(workspaces[i % workspaces.length] ?? ""));
}

const idsOf = (batch: readonly AuditMessage[], workspaceId: string) => batch.filter((m) => m.event.workspaceId === workspaceId).map((m) => m.event.id);

describe("ChainWriter (audit.append_entries)", () => {
  test("a batch spanning several workspaces keeps each chain's seq contiguous and verifiable", async ({ newLog, expectChain }) => {
    const workspaces = Array.from({ length: 7 }, () => randomUUID());
    const log = newLog();
    const first = interleaved(workspaces, 300);
    const second = interleaved([...workspaces].reverse(), 150);
    await log.applyEvents(first);
    await log.applyEvents(second);
    for (const ws of workspaces) await expectChain(ws, [...idsOf(first, ws), ...idsOf(second, ws)]);
  });

  test("a batch hashed ahead while the one before is written (a replay's next batch) makes the same chains; one whose chain moved meanwhile is hashed again", async ({ newLog, expectChain }) => {
    const workspaces = Array.from({ length: 3 }, () => randomUUID());
    const log = newLog();
    const [moved] = workspaces;
    const [first, second] = [interleaved(workspaces, 90), interleaved(workspaces, 60)];
    // Earlier in the stream than the third batch: what another instance appends first.
    const elsewhere = [message(moved ?? "")];
    const third = interleaved(workspaces, 30);
    log.hashAhead(first);
    const writing = log.applyEvents(first);
    log.hashAhead(second);
    await writing;
    await log.applyEvents(second);

    // Another instance appends to one chain after the third batch was hashed ahead here.
    log.hashAhead(third);
    await newLog().applyEvents(elsewhere);
    await log.applyEvents(third);

    for (const ws of workspaces) {
      const between = ws === moved ? idsOf(elsewhere, ws) : [];
      await expectChain(ws, [...idsOf(first, ws), ...idsOf(second, ws), ...between, ...idsOf(third, ws)]);
    }
  });

  test("a redelivered batch writes nothing twice, also when only part of it was recorded", async ({ newLog, expectChain }) => {
    const workspaces = [randomUUID(), randomUUID(), randomUUID()];
    const log = newLog();
    const batch = interleaved(workspaces, 30);
    expect((await log.applyEvents(batch)).every((r) => r.appended)).toBe(true);
    // The same batch again, to this writer and to a writer that never saw these chains.
    expect((await log.applyEvents(batch)).some((r) => r.appended)).toBe(false);
    expect((await newLog().applyEvents(batch)).some((r) => r.appended)).toBe(false);
    // A redelivery that overlaps what committed: only the new events go in, after the old ones.
    const more = interleaved(workspaces, 9);
    const results = await newLog().applyEvents([...batch.slice(20), ...more]);
    expect(results.map((r) => r.appended)).toEqual([...batch.slice(20).map(() => false), ...more.map(() => true)]);
    for (const ws of workspaces) await expectChain(ws, [...idsOf(batch, ws), ...idsOf(more, ws)]);
  });

  test("a leader taking over after another mid-stream continues the chain, and the old one catches up if it comes back", async ({ newLog, expectChain }) => {
    const workspaces = [randomUUID(), randomUUID()];
    const [old, next] = [newLog(), newLog()];
    const stream = interleaved(workspaces, 60);
    await old.applyEvents(stream.slice(0, 20));
    // The new leader starts with no heads in memory; its first batch also redelivers what the old one wrote last.
    await next.applyEvents(stream.slice(10, 40));
    // The old leader's heads are stale now: the database tells it where the chains end.
    await old.applyEvents(stream.slice(40));
    for (const ws of workspaces) await expectChain(ws, idsOf(stream, ws));
  });

  test("live events of a held workspace come back unwritten; the other workspaces of the batch are written", async ({ newLog, rowsOf, expectChain, admin }) => {
    const [held, free] = [randomUUID(), randomUUID()];
    await sql`insert into audit.replay_holds (workspace_id, consumer, replay_id) values (${held}, 'audit', ${randomUUID()})`.execute(admin);
    const batch = interleaved([held, free], 6);
    const result = await newLog().applyLive(batch);
    expect(result.held.map((m) => m.event.id)).toEqual(idsOf(batch, held));
    expect(await rowsOf(held)).toEqual([]);
    await expectChain(free, idsOf(batch, free));
    // Replayed events of the held workspace are the rebuild itself: they go in.
    await newLog().applyLive(batch.filter((m) => m.event.workspaceId === held).map((m) => ({ ...m, replayId: randomUUID() })));
    await expectChain(held, idsOf(batch, held));
  });

  test("the function writes only rows that continue the chain, each as the workspace it locked", async ({ rowsOf, db }) => {
    const [ws, other] = [randomUUID(), randomUUID()];
    const draft = (workspaceId: string) => ({
      id: randomUUID(), workspaceId, actor: { type: "service" as const, id: "test" }, action: "agent.activated", resourceType: "agent", resourceId: "a",
      changes: null, ipAddress: null, userAgent: null, traceId: null, occurredAt: new Date().toISOString(),
    });
    const first = appendToChain({ seq: 0, hash: GENESIS_HASH }, draft(ws));
    const gap = appendToChain({ seq: first.seq + 1, hash: first.hash }, draft(ws));
    const call = (rows: Array<typeof first>) => appendEntries(db, [{ workspaceId: ws, checkHold: false, afterHash: GENESIS_HASH, ids: rows.map((r) => r.id), rows: rows.map((entry) => ({ entry, streamSeq: 1 })) }]);
    await expect(call([first, gap])).rejects.toMatchObject({ code: "P0001" });
    // A row naming another workspace is written as the locked one's (and then fails verification, as a forged row would).
    const foreign = appendToChain({ seq: 0, hash: GENESIS_HASH }, draft(other));
    expect(await call([foreign])).toEqual([{ workspaceId: ws, status: "applied", inserted: 1 }]);
    expect((await rowsOf(ws)).map((r) => r.id)).toEqual([foreign.id]);
    expect(await rowsOf(other)).toEqual([]);
    // A stale head writes nothing and answers where the chain ends.
    expect(await call([first])).toMatchObject([{ status: "stale", head: { seq: 1, hash: foreign.hash } }]);
  });
});
