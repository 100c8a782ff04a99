import { expect } from "vitest";
import pg from "pg";
import { v7 as uuidv7 } from "uuid";
import { inWorkspace, sql, type Kysely } from "@galaxy/db";
import { serviceDb } from "@galaxy/testkit";
import { test as engineTest } from "@galaxy/testkit/fixtures";
import type { IdentityDb } from "./db";

const ws = uuidv7();
const userId = uuidv7();

/**
 * The file's fixtures: `env`, its own database (`@galaxy/testkit/fixtures`), and `db`: identity's
 * login role on it, after a user and their workspace (with them as owner) were written.
 */
const test = engineTest.extend("db", { scope: "file" }, async ({ env }, { onCleanup }): Promise<Kysely<IdentityDb>> => {
  const db = serviceDb<IdentityDb>(env, "identity");
  onCleanup(() => db.destroy());
  await db.insertInto("users").values({ id: userId, email: "rls@example.com", name: "R", password_hash: null, deleted_at: null }).execute();
  await inWorkspace(db, ws, async (tx) => {
    await tx.insertInto("workspaces").values({ id: ws, name: "W", slug: `w-${ws}`, deleted_at: null }).execute();
    await tx.insertInto("members").values({ workspace_id: ws, user_id: userId, role: "owner" }).execute();
  });
  return db;
});
// The rows are written before the first test, under the hooks' time limit.
test.beforeAll(async ({ db }) => {
  void db;
});

test("without the workspace set, the login role sees no tenant rows", async ({ db }) => {
  expect(await db.selectFrom("members").selectAll().execute()).toEqual([]);
  expect(await db.selectFrom("workspaces").selectAll().execute()).toEqual([]);
  expect(await inWorkspace(db, ws, (tx) => tx.selectFrom("members").selectAll().execute())).toHaveLength(1);
});

test("with another workspace set, it sees nothing of this one and cannot write into it", async ({ db }) => {
  const other = uuidv7();
  expect(await inWorkspace(db, other, (tx) => tx.selectFrom("members").selectAll().execute())).toEqual([]);
  await expect(inWorkspace(db, other, (tx) => tx.insertInto("members").values({ workspace_id: ws, user_id: userId, role: "viewer" }).execute())).rejects.toThrow(/row-level security/);
});

test("the login role cannot touch the migration bookkeeping", async ({ db }) => {
  await expect(sql`delete from identity.kysely_migration`.execute(db)).rejects.toThrow(/permission denied/);
});

test("the login role can read no other service's schema", async ({ db }) => {
  await expect(sql`select * from registry.agents`.execute(db)).rejects.toThrow(/permission denied/);
  await expect(sql`select * from audit.audit_logs`.execute(db)).rejects.toThrow(/permission denied/);
});

test("the login role neither owns its tables nor bypasses row-level security", async ({ env }) => {
  const client = new pg.Client({ connectionString: env.databaseUrl });
  await client.connect();
  try {
    const role = await client.query("select rolbypassrls, rolsuper from pg_roles where rolname = 'galaxy_identity'");
    expect(role.rows[0]).toEqual({ rolbypassrls: false, rolsuper: false });
    const owners = await client.query("select distinct tableowner from pg_tables where schemaname = 'identity'");
    expect(owners.rows.map((r: { tableowner: string }) => r.tableowner)).toEqual(["galaxy_identity_owner"]);
    const forced = await client.query("select relname from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'identity' and c.relkind = 'r' and c.relrowsecurity and c.relforcerowsecurity order by relname");
    expect(forced.rows.map((r: { relname: string }) => r.relname)).toEqual(["api_keys", "members", "outbox", "provider_credentials", "workspaces"]);
  } finally {
    await client.end();
  }
});
