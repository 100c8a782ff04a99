import { describe, expect } from "vitest";
import pg from "pg";
import { v7 as uuidv7 } from "uuid";
import { serviceDb } from "@galaxy/testkit";
import { scratchTest, startScratchFirst } from "../test/fixtures";
import { sql } from "./connection";
import { createSecurityDefinerFunction, enableWorkspaceRls } from "./migrations";
import { inWorkspace } from "./workspace-tx";

interface ScratchDb {
  scratch: { id: string; workspace_id: string; label: string };
}

const a = uuidv7();
const b = uuidv7();

const test = scratchTest<ScratchDb>({
  async create(owner) {
    await sql`create table scratch (id uuid primary key, workspace_id uuid not null, label text not null)`.execute(owner);
    await enableWorkspaceRls(owner, "scratch");
    await createSecurityDefinerFunction(owner, "identity", {
      name: "scratch_labels",
      args: "",
      returns: "table (workspace_id uuid, label text)",
      body: "select workspace_id, label from scratch order by label",
      reason: "test: reads every workspace's rows",
    });
  },
  async seed(db) {
    await inWorkspace(db, a, (tx) => tx.insertInto("scratch").values([{ id: uuidv7(), workspace_id: a, label: "a1" }, { id: uuidv7(), workspace_id: a, label: "a2" }]).execute());
    await inWorkspace(db, b, (tx) => tx.insertInto("scratch").values({ id: uuidv7(), workspace_id: b, label: "b1" }).execute());
  },
});

const labels = (rows: Array<{ label: string }>) => rows.map((r) => r.label).sort();

startScratchFirst(test);

describe("inWorkspace", () => {
  test("sets app.workspace_id for its transaction only", async ({ single }) => {
    const inside = await inWorkspace(single, a, async (tx) => (await sql<{ ws: string }>`select current_setting('app.workspace_id', true) as ws`.execute(tx)).rows[0]?.ws);
    expect(inside).toBe(a);
    const after = await sql<{ ws: string | null }>`select current_setting('app.workspace_id', true) as ws`.execute(single);
    expect(after.rows[0]?.ws).toBe("");
    expect(await single.selectFrom("scratch").select("label").execute()).toEqual([]);
  });

  test("a transaction that fails leaves neither its rows nor its setting behind", async ({ single }) => {
    const id = uuidv7();
    await expect(
      inWorkspace(single, a, async (tx) => {
        await tx.insertInto("scratch").values({ id, workspace_id: a, label: "rolled back" }).execute();
        throw new Error("the handler failed");
      }),
    ).rejects.toThrow("the handler failed");
    expect(await inWorkspace(single, a, (tx) => tx.selectFrom("scratch").select("id").where("id", "=", id).execute())).toEqual([]);
    const after = await sql<{ ws: string | null }>`select current_setting('app.workspace_id', true) as ws`.execute(single);
    expect(after.rows[0]?.ws).toBe("");
  });

  test("two workspaces in turn on one connection each see their own rows", async ({ single }) => {
    expect(labels(await inWorkspace(single, a, (tx) => tx.selectFrom("scratch").select("label").execute()))).toEqual(["a1", "a2"]);
    expect(labels(await inWorkspace(single, b, (tx) => tx.selectFrom("scratch").select("label").execute()))).toEqual(["b1"]);
  });
});

describe("row-level security on a table with enableWorkspaceRls", () => {
  test("the login role sees only the workspace set, and nothing without one", async ({ db }) => {
    expect(labels(await inWorkspace(db, a, (tx) => tx.selectFrom("scratch").select("label").execute()))).toEqual(["a1", "a2"]);
    expect(labels(await inWorkspace(db, uuidv7(), (tx) => tx.selectFrom("scratch").select("label").execute()))).toEqual([]);
    expect(await db.selectFrom("scratch").select("label").execute()).toEqual([]);
  });

  test("a filter naming another workspace finds nothing", async ({ db }) => {
    const rows = await inWorkspace(db, a, (tx) => tx.selectFrom("scratch").select("label").where("workspace_id", "=", b).execute());
    expect(rows).toEqual([]);
  });

  test("the login role cannot insert a row of another workspace", async ({ db }) => {
    await expect(
      inWorkspace(db, a, (tx) => tx.insertInto("scratch").values({ id: uuidv7(), workspace_id: b, label: "smuggled" }).execute()),
    ).rejects.toThrow(/row-level security/);
    await expect(db.insertInto("scratch").values({ id: uuidv7(), workspace_id: b, label: "no workspace set" }).execute()).rejects.toThrow(/row-level security/);
  });

  test("the login role cannot move its rows into another workspace", async ({ db }) => {
    await expect(inWorkspace(db, a, (tx) => tx.updateTable("scratch").set({ workspace_id: b }).where("label", "=", "a1").execute())).rejects.toThrow(/row-level security/);
  });

  test("updates and deletes of another workspace's rows touch nothing", async ({ db }) => {
    const updated = await inWorkspace(db, a, (tx) => tx.updateTable("scratch").set({ label: "hijacked" }).where("label", "=", "b1").executeTakeFirst());
    const deleted = await inWorkspace(db, a, (tx) => tx.deleteFrom("scratch").where("workspace_id", "=", b).executeTakeFirst());
    expect(updated.numUpdatedRows).toBe(0n);
    expect(deleted.numDeletedRows).toBe(0n);
    expect(labels(await inWorkspace(db, b, (tx) => tx.selectFrom("scratch").select("label").execute()))).toEqual(["b1"]);
  });

  test("the table is ENABLE and FORCE row level security with one policy, USING and WITH CHECK", async ({ owner }) => {
    const rows = await sql<{ relrowsecurity: boolean; relforcerowsecurity: boolean; qual: string | null; with_check: string | null }>`
      select c.relrowsecurity, c.relforcerowsecurity, p.qual, p.with_check
      from pg_class c join pg_namespace n on n.oid = c.relnamespace join pg_policies p on p.schemaname = n.nspname and p.tablename = c.relname
      where n.nspname = 'identity' and c.relname = 'scratch'`.execute(owner);
    expect(rows.rows).toHaveLength(1);
    expect(rows.rows[0]).toMatchObject({ relrowsecurity: true, relforcerowsecurity: true });
    expect(rows.rows[0]?.qual).toContain("app.workspace_id");
    expect(rows.rows[0]?.with_check).toContain("app.workspace_id");
  });
});

describe("createSecurityDefinerFunction", () => {
  test("is callable by the login role and sees every workspace's rows", async ({ db }) => {
    const rows = await sql<{ workspace_id: string; label: string }>`select * from scratch_labels()`.execute(db);
    expect(rows.rows.map((r) => r.label)).toEqual(["a1", "a2", "b1"]);
  });

  test("is not callable by another service's login role, nor by PUBLIC", async ({ env }) => {
    const registry = serviceDb<unknown>(env, "agent-registry");
    try {
      await expect(sql`select * from identity.scratch_labels()`.execute(registry)).rejects.toThrow(/permission denied/);
    } finally {
      await registry.destroy();
    }
    const client = new pg.Client({ connectionString: env.databaseUrl });
    await client.connect();
    try {
      const check = await client.query<{ login: boolean; registry: boolean; audit: boolean; anyone: boolean }>(`
        select has_function_privilege('galaxy_identity', 'identity.scratch_labels()', 'execute') as login,
               has_function_privilege('galaxy_registry', 'identity.scratch_labels()', 'execute') as registry,
               has_function_privilege('galaxy_audit', 'identity.scratch_labels()', 'execute') as audit,
               exists (select 1 from pg_proc p, aclexplode(p.proacl) acl where p.proname = 'scratch_labels' and acl.grantee = 0) as anyone`);
      expect(check.rows[0]).toEqual({ login: true, registry: false, audit: false, anyone: false });
    } finally {
      await client.end();
    }
  });

  test("is owned by the owner role, security definer, with its search_path pinned", async ({ owner }) => {
    const rows = await sql<{ owner: string; prosecdef: boolean; proconfig: string[] | null; comment: string | null }>`
      select pg_get_userbyid(p.proowner) as owner, p.prosecdef, p.proconfig, obj_description(p.oid, 'pg_proc') as comment
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'identity' and p.proname = 'scratch_labels'`.execute(owner);
    expect(rows.rows[0]).toEqual({ owner: "galaxy_identity_owner", prosecdef: true, proconfig: ["search_path=identity, pg_temp"], comment: "test: reads every workspace's rows" });
  });
});
