import { randomBytes } from "node:crypto";
import { describe, expect, inject, test as base } from "vitest";
import { sql, type Kysely } from "kysely";
import { dropDatabase } from "@galaxy/testkit";
import { bootstrapService, ensureDatabase } from "./bootstrap";
import { createDb, createServiceDb, withUser } from "./connection";
import { migrateService, type Migration } from "./migrations";

const migrations: Record<string, Migration> = {
  "2026_01_01_00_00_00_create_notes": {
    async up(db: Kysely<unknown>) {
      await sql`create table notes (id int primary key, body text not null)`.execute(db);
    },
  },
};

/**
 * `url`: a database of this file's own, bootstrapped from nothing for one service, so the
 * bootstrap and the migrator are exercised as `make up` runs them; dropped after the file's
 * last test.
 */
const test = base.extend("url", { scope: "file" }, async ({}, { onCleanup }): Promise<string> => {
  const engines = inject("engines");
  const name = `galaxy_test_boot_${randomBytes(5).toString("hex")}`;
  const url = withUser(engines.databaseUrl, new URL(engines.databaseUrl).username || "postgres", name);
  onCleanup(() => dropDatabase(engines.databaseUrl, name));
  await ensureDatabase(url);
  await bootstrapService(url, "gateway");
  return url;
});

describe("bootstrap", () => {
  test("is safe to run again", async ({ url }) => {
    await ensureDatabase(url);
    await bootstrapService(url, "gateway");
    const db = createDb<unknown>({ connectionString: url });
    try {
      const schema = await sql<{ owner: string }>`select pg_get_userbyid(nspowner) as owner from pg_namespace where nspname = 'gateway'`.execute(db);
      expect(schema.rows).toEqual([{ owner: "galaxy_gateway_owner" }]);
      const roles = await sql<{ rolname: string; rolcanlogin: boolean; rolbypassrls: boolean; rolsuper: boolean }>`
        select rolname, rolcanlogin, rolbypassrls, rolsuper from pg_roles where rolname in ('galaxy_gateway', 'galaxy_gateway_owner') order by rolname`.execute(db);
      expect(roles.rows).toEqual([
        { rolname: "galaxy_gateway", rolcanlogin: true, rolbypassrls: false, rolsuper: false },
        { rolname: "galaxy_gateway_owner", rolcanlogin: false, rolbypassrls: true, rolsuper: false },
      ]);
    } finally {
      await db.destroy();
    }
  });
});

describe("migrateService", () => {
  test("runs as the owner role, keeps its bookkeeping in the service's schema, and applies nothing twice", async ({ url }) => {
    const first = await migrateService(url, "gateway", migrations);
    expect(first.results?.map((r) => [r.migrationName, r.status])).toEqual([["2026_01_01_00_00_00_create_notes", "Success"]]);
    const again = await migrateService(url, "gateway", migrations);
    expect(again.results).toEqual([]);

    const db = createDb<unknown>({ connectionString: url });
    try {
      const tables = await sql<{ tablename: string; tableowner: string }>`
        select tablename, tableowner from pg_tables where schemaname = 'gateway' order by tablename`.execute(db);
      expect(tables.rows).toEqual([
        { tablename: "kysely_migration", tableowner: "galaxy_gateway_owner" },
        { tablename: "kysely_migration_lock", tableowner: "galaxy_gateway_owner" },
        { tablename: "notes", tableowner: "galaxy_gateway_owner" },
      ]);
      const elsewhere = await sql<{ n: number }>`select count(*)::int as n from pg_tables where tablename like 'kysely_migration%' and schemaname <> 'gateway'`.execute(db);
      expect(elsewhere.rows[0]?.n).toBe(0);
    } finally {
      await db.destroy();
    }
  });

  test("the login role can read and write the owner's tables but not change them", async ({ url }) => {
    await migrateService(url, "gateway", migrations);
    const db = createServiceDb<{ notes: { id: number; body: string } }>(url, "gateway", { max: 1 });
    try {
      await db.insertInto("notes").values({ id: 1, body: "hello" }).execute();
      expect(await db.selectFrom("notes").selectAll().execute()).toEqual([{ id: 1, body: "hello" }]);
      await expect(sql`alter table notes add column extra text`.execute(db)).rejects.toThrow(/must be owner/);
      await expect(sql`drop table notes`.execute(db)).rejects.toThrow(/must be owner/);
      await expect(sql`create table gateway.mine (id int)`.execute(db)).rejects.toThrow(/permission denied/);
      await expect(sql`create table public.mine (id int)`.execute(db)).rejects.toThrow(/permission denied/);
    } finally {
      await db.destroy();
    }
  });

  test("a failing migration throws with its name and applies nothing of it", async ({ url }) => {
    const failing: Record<string, Migration> = {
      ...migrations,
      "2026_01_02_00_00_00_break_things": {
        async up(db: Kysely<unknown>) {
          await sql`create table half (id int)`.execute(db);
          await sql`select * from no_such_table`.execute(db);
        },
      },
    };
    await expect(migrateService(url, "gateway", failing)).rejects.toThrow(/migration 2026_01_02_00_00_00_break_things of gateway failed/);
    const db = createDb<unknown>({ connectionString: url });
    try {
      const half = await sql<{ n: number }>`select count(*)::int as n from pg_tables where schemaname = 'gateway' and tablename = 'half'`.execute(db);
      expect(half.rows[0]?.n).toBe(0);
    } finally {
      await db.destroy();
    }
  });
});
