import { describe, expect } from "vitest";
import pg from "pg";
import { v7 as uuidv7 } from "uuid";
import { scratchTest, startScratchFirst } from "../test/fixtures";
import { sql, type Kysely } from "./connection";
import { enableWorkspaceRls } from "./migrations";
import { atCommit, inWorkspace, inWorkspaceAtOnce } from "./workspace-tx";

/** How few round trips a workspace transaction takes: inWorkspaceAtOnce (one), inWorkspace (one more than its statements). */

interface ScratchDb {
  scratch_once: { id: string; workspace_id: string; label: string };
}

const a = uuidv7();
const b = uuidv7();

const test = scratchTest<ScratchDb>({
  async create(owner) {
    await sql`create table scratch_once (id uuid primary key, workspace_id uuid not null, label text not null)`.execute(owner);
    await enableWorkspaceRls(owner, "scratch_once");
  },
  async seed(db) {
    await inWorkspace(db, a, (tx) => tx.insertInto("scratch_once").values([{ id: uuidv7(), workspace_id: a, label: "a1" }, { id: uuidv7(), workspace_id: a, label: "it's a2" }]).execute());
    await inWorkspace(db, b, (tx) => tx.insertInto("scratch_once").values({ id: uuidv7(), workspace_id: b, label: "b1" }).execute());
  },
}).extend("labelsOf", { scope: "file" }, async ({ single }) => (workspaceId: string, handle: Kysely<ScratchDb> = single) =>
  inWorkspaceAtOnce(handle, workspaceId, handle.selectFrom("scratch_once").select("label").orderBy("label").compile()));

startScratchFirst(test);

test("answers the statement's rows, the workspace's only, and leaves no setting behind", async ({ single, labelsOf }) => {
  expect(await labelsOf(a)).toEqual([{ label: "a1" }, { label: "it's a2" }]);
  expect(await labelsOf(b)).toEqual([{ label: "b1" }]);
  const after = await sql<{ ws: string }>`select current_setting('app.workspace_id', true) as ws`.execute(single);
  expect(after.rows[0]?.ws).toBe("");
  expect(await single.selectFrom("scratch_once").select("label").execute()).toEqual([]);
});

test("a write commits, and row-level security refuses another workspace's row", async ({ single, labelsOf }) => {
  const id = uuidv7();
  const inserted = await inWorkspaceAtOnce(single, a, single.insertInto("scratch_once").values({ id, workspace_id: a, label: "a3 \\ 'quoted'" }).returning(["id", "label"]).compile());
  expect(inserted).toEqual([{ id, label: "a3 \\ 'quoted'" }]);
  await expect(inWorkspaceAtOnce(single, a, single.insertInto("scratch_once").values({ id: uuidv7(), workspace_id: b, label: "forged" }).compile())).rejects.toThrow(/row-level security/);
  expect(await labelsOf(b)).toEqual([{ label: "b1" }]);
});

test("a failed statement is rolled back and its connection serves the next transaction", async ({ single, labelsOf }) => {
  const id = uuidv7();
  await inWorkspaceAtOnce(single, a, single.insertInto("scratch_once").values({ id, workspace_id: a, label: "once" }).compile());
  await expect(inWorkspaceAtOnce(single, a, single.insertInto("scratch_once").values({ id, workspace_id: a, label: "twice" }).compile())).rejects.toThrow(/duplicate key/);
  // The pool's single connection is not left in an aborted transaction.
  expect((await labelsOf(a)).filter((row) => row.label === "once" || row.label === "twice")).toEqual([{ label: "once" }]);
  const state = await sql<{ open: boolean }>`select now() <> statement_timestamp() as open`.execute(single);
  expect(state.rows[0]?.open).toBe(false);
});

test("takes the advisory lock asked for, in the same transaction", async ({ single }) => {
  const locks = await inWorkspaceAtOnce(single, a, sql<{ n: number }>`select count(*)::int as n from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()`.compile(single), { advisoryLock: "test.at_once" });
  expect(locks).toEqual([{ n: 1 }]);
});

test("a statement whose parameters cannot be literals is sent with its parameters, the opening before it, with the same answer", async ({ db }) => {
  const rows = await inWorkspaceAtOnce(db, a, sql<{ n: number; ws: string }>`select length(${Buffer.from("four")}::bytea) as n, current_setting('app.workspace_id') as ws`.compile(db));
  expect(rows).toEqual([{ n: 4, ws: a }]);
});

test("refuses a workspace id that is not a UUID before sending anything", async ({ labelsOf }) => {
  await expect(labelsOf("a'; drop table scratch_once; --")).rejects.toThrow(/not a workspace id/);
});

/** Round trips node-postgres makes while `fn` runs (each `Client.query` call is one message). */
async function roundTrips(fn: () => Promise<unknown>): Promise<number> {
  const prototype = pg.Client.prototype;
  const original = prototype.query;
  let calls = 0;
  prototype.query = function (this: pg.Client, ...args: Parameters<typeof original>) {
    calls += 1;
    return Reflect.apply(original, this, args);
  } as typeof original;
  try {
    await fn();
  } finally {
    prototype.query = original;
  }
  return calls;
}

describe("inWorkspace on a pool's connection", () => {
  test("the opening travels with the first statement: two statements, three round trips", async ({ single }) => {
    const trips = await roundTrips(() =>
      inWorkspace(single, a, async (tx) => {
        await tx.selectFrom("scratch_once").select("label").execute();
        await tx.selectFrom("scratch_once").select("id").execute();
      }),
    );
    expect(trips).toBe(3);
    expect(await roundTrips(() => inWorkspace(single, a, async () => "nothing to send"))).toBe(0);
  });

  test("a first statement with binary parameters has the opening sent before it, and sees the workspace", async ({ single }) => {
    const trips = await roundTrips(async () => {
      const rows = await inWorkspace(single, a, async (tx) => (await sql<{ n: number; ws: string }>`select length(${Buffer.from("four")}::bytea) as n, current_setting('app.workspace_id') as ws`.execute(tx)).rows);
      expect(rows).toEqual([{ n: 4, ws: a }]);
    });
    expect(trips).toBe(3);
  });

  test("a first statement that fails rolls the transaction back; the connection serves the next", async ({ single, labelsOf }) => {
    await expect(inWorkspace(single, a, (tx) => sql`select 1 / 0`.execute(tx))).rejects.toThrow(/division by zero/);
    expect(await labelsOf(a)).toContainEqual({ label: "a1" });
  });
});

describe("atCommit", () => {
  test("a transaction's last statement travels with the commit: a read and a write, two round trips", async ({ single, labelsOf }) => {
    const id = uuidv7();
    let answer: string[] = [];
    const trips = await roundTrips(async () => {
      answer = await inWorkspace(single, a, async (tx) => {
        const before = await tx.selectFrom("scratch_once").select("label").execute();
        return atCommit(tx.insertInto("scratch_once").values({ id, workspace_id: a, label: `after ${before.length}` }).returning("label").compile(), (rows) => rows.map((row) => row.label));
      });
    });
    expect(trips).toBe(2);
    expect(answer[0]).toMatch(/^after \d+$/);
    expect(await labelsOf(a)).toContainEqual({ label: answer[0] });
  });

  test("one statement alone, through inWorkspaceAtOnce, is one round trip", async ({ labelsOf }) => {
    expect(await roundTrips(() => labelsOf(a))).toBe(1);
  });

  test("a last statement that fails rolls the whole transaction back", async ({ single, labelsOf }) => {
    const id = uuidv7();
    await expect(
      inWorkspace(single, a, async (tx) => {
        await tx.insertInto("scratch_once").values({ id, workspace_id: a, label: "kept?" }).execute();
        return atCommit(tx.insertInto("scratch_once").values({ id, workspace_id: a, label: "duplicate" }).compile(), () => "never");
      }),
    ).rejects.toThrow(/duplicate key/);
    expect((await labelsOf(a)).map((row) => row.label)).not.toContain("kept?");
  });
});
