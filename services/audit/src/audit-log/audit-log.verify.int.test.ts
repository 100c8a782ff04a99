import { randomUUID } from "node:crypto";
import { describe, expect } from "vitest";
import { sql } from "@galaxy/db";
import { GENESIS_HEAD, hashEntry } from "../chain/chain";
import { chainFor, chainOf } from "../../test/support/audit-events";
import { test } from "../../test/support/audit-log-fixtures";

describe("verifyWorkspace", () => {
  test("names the first entry that was altered, reworked or removed", async ({ agentCreated, rowsOf, entriesOf, admin, audit }) => {
    const ws = randomUUID();
    for (let i = 0; i < 4; i++) await agentCreated(ws);
    await entriesOf(ws, 4);
    expect(await audit.verifyWorkspace(ws)).toMatchObject({ valid: true, entries: 4 });

    const tamper = (seq: number) => admin.updateTable("audit_logs").where("workspace_id", "=", ws).where("seq", "=", seq);
    await tamper(2).set({ actor_id: "someone-else" }).execute();
    expect(await audit.verifyWorkspace(ws)).toEqual({ valid: false, entries: 1, firstBadSeq: 2, reason: "hash_mismatch" });

    // A tamperer who recomputes the altered entry's hash breaks the link to the next one.
    const [, second] = chainOf(await rowsOf(ws));
    if (!second) throw new Error("no second entry");
    await tamper(2).set({ hash: hashEntry(second) }).execute();
    expect(await audit.verifyWorkspace(ws)).toEqual({ valid: false, entries: 2, firstBadSeq: 3, reason: "prev_hash_mismatch" });

    await admin.deleteFrom("audit_logs").where("workspace_id", "=", ws).where("seq", "=", 2).execute();
    expect(await audit.verifyWorkspace(ws)).toEqual({ valid: false, entries: 1, firstBadSeq: 2, reason: "seq_gap" });
  });

  test("reads a long chain in pages and finds a change deep inside it", async ({ storeChain, admin, audit }) => {
    const ws = randomUUID();
    const entries = chainFor(ws, 2_500);
    await storeChain(ws, entries);
    const last = entries[entries.length - 1];
    expect(await audit.verifyWorkspace(ws)).toEqual({ valid: true, entries: 2_500, head: { seq: 2_500, hash: last?.hash } });

    await sql`update audit.audit_logs set changes = '{"before": null, "after": {"n": -1}}' where workspace_id = ${ws} and seq = 1500`.execute(admin);
    expect(await audit.verifyWorkspace(ws)).toEqual({ valid: false, entries: 1_499, firstBadSeq: 1_500, reason: "hash_mismatch" });
  });

  test("starts from the retention checkpoint, which must match the first entry kept", async ({ storeChain, admin, audit }) => {
    const ws = randomUUID();
    const entries = chainFor(ws, 5);
    const removed = entries[1];
    if (!removed) throw new Error("no entry 2");
    await admin.insertInto("audit_checkpoints").values({ workspace_id: ws, seq: 2, hash: removed.hash }).execute();
    await storeChain(ws, entries.slice(2));
    expect(await audit.verifyWorkspace(ws)).toEqual({ valid: true, entries: 3, head: { seq: 5, hash: entries[4]?.hash } });

    await admin.deleteFrom("audit_checkpoints").where("workspace_id", "=", ws).execute();
    await admin.insertInto("audit_checkpoints").values({ workspace_id: ws, seq: 2, hash: "cd".repeat(32) }).execute();
    expect(await audit.verifyWorkspace(ws)).toEqual({ valid: false, entries: 0, firstBadSeq: 3, reason: "prev_hash_mismatch" });
  });

  test("reports a row altered into something no entry holds as altered", async ({ storeChain, admin, audit }) => {
    const ws = randomUUID();
    await storeChain(ws, chainFor(ws, 3));
    await sql`update audit.audit_logs set changes = '{"note": "rewritten"}' where workspace_id = ${ws} and seq = 2`.execute(admin);
    expect(await audit.verifyWorkspace(ws)).toEqual({ valid: false, entries: 1, firstBadSeq: 2, reason: "hash_mismatch" });
  });

  test("an empty workspace's chain is valid and ends at genesis", async ({ audit }) => {
    expect(await audit.verifyWorkspace(randomUUID())).toEqual({ valid: true, entries: 0, head: GENESIS_HEAD });
  });
});
