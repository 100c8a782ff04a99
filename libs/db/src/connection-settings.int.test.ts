import pg from "pg";
import { expect } from "vitest";
import { serviceDb } from "@galaxy/testkit";
import { test } from "@galaxy/testkit/fixtures";
import { createDb, sql, type Kysely } from "./connection";

// A statement PostgreSQL estimates above `jit_above_cost` (100,000 by default) is compiled with
// LLVM first; Galaxy's connections never compile (docs/decisions/0034-no-jit-compilation.md).
const COSTLY = "explain select count(*) from generate_series(1, 30000000) g, generate_series(1, 10) h";

async function planOf(db: Kysely<unknown>): Promise<string> {
  const { rows } = await sql<{ "QUERY PLAN": string }>`${sql.raw(COSTLY)}`.execute(db);
  return rows.map((row) => row["QUERY PLAN"]).join("\n");
}

async function jitOf(db: Kysely<unknown>): Promise<string | undefined> {
  return (await sql<{ jit: string }>`select current_setting('jit') as jit`.execute(db)).rows[0]?.jit;
}

test("a service's connections plan a costly statement without JIT compilation", async ({ env }) => {
  const db = serviceDb<unknown>(env, "execution-worker");
  try {
    expect(await jitOf(db)).toBe("off");
    const plan = await planOf(db);
    expect(plan).toContain("Nested Loop");
    expect(plan).not.toContain("JIT");
  } finally {
    await db.destroy();
  }
});

test("so do the migrations' connections, as a schema's owner", async ({ env }) => {
  const owner = createDb<unknown>({ connectionString: env.databaseUrl, role: "galaxy_audit_owner", schema: "audit", max: 1 });
  try {
    expect(await jitOf(owner)).toBe("off");
    expect(await planOf(owner)).not.toContain("JIT");
  } finally {
    await owner.destroy();
  }
});

test("a connection with the server's defaults compiles it, where the server can", async ({ env }) => {
  const client = new pg.Client({ connectionString: env.databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ compiles: boolean }>("select pg_jit_available() and current_setting('jit')::boolean as compiles");
    const plan = (await client.query<{ "QUERY PLAN": string }>(COSTLY)).rows.map((row) => row["QUERY PLAN"]).join("\n");
    // Where the server can (Debian's PostgreSQL, Galaxy's CI), the plans above would show JIT
    // without the setting; anywhere, `jit` would not read `off`.
    expect(plan.includes("JIT")).toBe(rows[0]?.compiles);
  } finally {
    await client.end();
  }
});
