import { expect } from "vitest";
import type pg from "pg";
import { v7 as uuidv7 } from "uuid";
import { scratchTest, startScratchFirst } from "../test/fixtures";
import { poolOf, sql, type Kysely } from "./connection";
import { enableWorkspaceRls } from "./migrations";
import { readInWorkspace } from "./workspace-reads";
import { inWorkspace } from "./workspace-tx";

/** Reads sent together (workspace-reads.ts): each its own read-only transaction, its own workspace's rows only. */

interface ScratchDb {
  scratch_reads: { id: string; workspace_id: string; label: string; divisor: number };
}

const workspaces = [uuidv7(), uuidv7(), uuidv7()];

const test = scratchTest<ScratchDb>({
  async create(owner) {
    await sql`create table scratch_reads (id uuid primary key, workspace_id uuid not null, label text not null, divisor int not null)`.execute(owner);
    await enableWorkspaceRls(owner, "scratch_reads");
  },
  async seed(db) {
    for (const [n, workspaceId] of workspaces.entries()) {
      await inWorkspace(db, workspaceId, (tx) => tx.insertInto("scratch_reads").values([{ id: uuidv7(), workspace_id: workspaceId, label: `w${n} it's mine`, divisor: n }]).execute());
    }
  },
}).extend("labelsOf", { scope: "file" }, async () => (handle: Kysely<ScratchDb>, workspaceId: string) =>
  readInWorkspace(handle, workspaceId, handle.selectFrom("scratch_reads").select(["label", sql<string>`current_setting('app.workspace_id')`.as("ws")]).compile()));

startScratchFirst(test);

/** How many messages the pool under `db` sent while `fn` ran (each connection it handed out sends one). */
async function messagesSent<T>(db: Kysely<ScratchDb>, fn: () => Promise<T>): Promise<{ answer: T; messages: number }> {
  const pool = poolOf(db) as pg.Pool;
  let messages = 0;
  const count = () => (messages += 1);
  pool.on("acquire", count);
  try {
    return { answer: await fn(), messages };
  } finally {
    pool.off("acquire", count);
  }
}

test("reads made at once go together, each answered with its own workspace's rows", async ({ db, labelsOf }) => {
  const asked = Array.from({ length: 60 }, (_, i) => workspaces[i % workspaces.length] as string);
  const { answer, messages } = await messagesSent(db, () => Promise.all(asked.map((workspaceId) => labelsOf(db, workspaceId))));
  answer.forEach((rows, i) => {
    const n = workspaces.indexOf(asked[i] as string);
    expect(rows).toEqual([{ label: `w${n} it's mine`, ws: asked[i] }]);
  });
  // Two messages leave at once; the 58 reads that waited for them go in two more of at most 32.
  expect(messages).toBe(4);
});

test("leaves no transaction open and no workspace set on the connection", async ({ single, labelsOf }) => {
  const [w0, w1] = workspaces as [string, string];
  await Promise.all([labelsOf(single, w0), labelsOf(single, w1), labelsOf(single, w0)]);
  const state = await sql<{ ws: string; open: boolean }>`select current_setting('app.workspace_id', true) as ws, now() <> statement_timestamp() as open`.execute(single);
  expect(state.rows).toEqual([{ ws: "", open: false }]);
  expect(await single.selectFrom("scratch_reads").select("label").execute()).toEqual([]);
});

test("a read that fails fails alone: the reads sent with it are answered, and the connection is left clean", async ({ single, labelsOf }) => {
  const quotients = (workspaceId: string) => readInWorkspace(single, workspaceId, single.selectFrom("scratch_reads").select(sql<number>`10 / divisor`.as("q")).compile());
  // Workspace 0's row has divisor 0.
  const [w0, w1, w2] = workspaces as [string, string, string];
  const { answer: settled, messages } = await messagesSent(single, () => Promise.allSettled([labelsOf(single, w1), labelsOf(single, w2), quotients(w1), quotients(w0), quotients(w2), labelsOf(single, w0)]));
  expect(settled.map((result) => result.status)).toEqual(["fulfilled", "fulfilled", "fulfilled", "rejected", "fulfilled", "fulfilled"]);
  expect(settled[3]).toMatchObject({ reason: { message: expect.stringMatching(/division by zero/) } });
  expect(settled[2]).toEqual({ status: "fulfilled", value: [{ q: 10 }] });
  expect(settled[5]).toEqual({ status: "fulfilled", value: [{ label: "w0 it's mine", ws: w0 }] });
  // Two alone, then the four that waited together; that message failed, and its reads went again one at a time.
  expect(messages).toBe(2 + 1 + 4);
  const state = await sql<{ ws: string; open: boolean }>`select current_setting('app.workspace_id', true) as ws, now() <> statement_timestamp() as open`.execute(single);
  expect(state.rows).toEqual([{ ws: "", open: false }]);
});

test("when the connection fails, every read of its message fails with that error, none sent again", async ({ db, single, labelsOf }) => {
  const [w0, w1, w2] = workspaces as [string, string, string];
  const slow = (workspaceId: string) => readInWorkspace(db, workspaceId, sql<{ slept: string }>`select pg_sleep(30)::text as slept`.compile(db));
  const { answer: settled, messages } = await messagesSent(db, async () => {
    // Two messages leave alone, each stopped by the kill below; the third, of two reads, waits and goes together.
    const reads = Promise.allSettled([slow(w0), slow(w1), labelsOf(db, w2), labelsOf(db, w0)]);
    const sleeping = sql<{ pid: number }>`select pid from pg_stat_activity where query like '%pg_sleep(30)%' and state = 'active' and pid <> pg_backend_pid() and usename = current_user`;
    const deadline = Date.now() + 10_000;
    while ((await sleeping.execute(single)).rows.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    await sql`select pg_terminate_backend(pid) from (${sleeping}) as running`.execute(single);
    return reads;
  });
  expect(settled.map((result) => result.status)).toEqual(["rejected", "rejected", "fulfilled", "fulfilled"]);
  for (const result of settled.slice(0, 2)) expect(result).toMatchObject({ reason: { code: "57P01" } });
  // The two messages that failed were not split: the waiting pair went as one more message.
  expect(messages).toBe(3);
});

test("a statement that writes is refused as a bug, not an outage: the transaction is read-only", async ({ db }) => {
  const [w0] = workspaces as [string];
  const write = db.insertInto("scratch_reads").values({ id: uuidv7(), workspace_id: w0, label: "written by a read", divisor: 1 }).compile();
  const refusal: unknown = await readInWorkspace(db, w0, write).catch((error: unknown) => error);
  expect(refusal).toBeInstanceOf(Error);
  expect(refusal).toMatchObject({ message: expect.stringMatching(/a read sent a statement that writes: .*read-only transaction/) });
  // Not the SQLSTATE Galaxy takes for a standby's refusal during a failover.
  expect(refusal).not.toHaveProperty("code");
  const binary = sql`insert into scratch_reads (id, workspace_id, label, divisor) select ${uuidv7()}, ${w0}, encode(${Buffer.from("x")}::bytea, 'hex'), 1`.compile(db);
  const binaryRefusal: unknown = await readInWorkspace(db, w0, binary).catch((error: unknown) => error);
  expect(binaryRefusal).toMatchObject({ message: expect.stringMatching(/a read sent a statement that writes: .*read-only transaction/) });
  expect(binaryRefusal).not.toHaveProperty("code");
  const labels = await readInWorkspace(db, w0, db.selectFrom("scratch_reads").select("label").compile());
  expect(labels).toEqual([{ label: "w0 it's mine" }]);
});

test("a statement whose parameters cannot be literals is answered alone, under its workspace", async ({ db }) => {
  const [w1] = workspaces as [string];
  const rows = await readInWorkspace(db, w1, sql<{ n: number; ws: string }>`select length(${Buffer.from("four")}::bytea) as n, current_setting('app.workspace_id') as ws`.compile(db));
  expect(rows).toEqual([{ n: 4, ws: w1 }]);
});

test("refuses a workspace id that is not a UUID before sending anything", async ({ db, labelsOf }) => {
  await expect(labelsOf(db, "a'; drop table scratch_reads; --")).rejects.toThrow(/not a workspace id/);
});
