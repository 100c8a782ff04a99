import { describe, expect } from "vitest";
import { readFileSync } from "node:fs";
import { createDb, sql, SERVICE_SCHEMAS, type Kysely } from "@galaxy/db";
import { test as engineTest } from "@galaxy/testkit/fixtures";

/**
 * Row-level security and security-definer functions across every schema, read from the
 * catalogs of a database with every migration (docs/security.md).
 * A new tenant table without forced RLS, or a new definer function the docs do not name,
 * fails here.
 */
const SCHEMAS: readonly string[] = Object.values(SERVICE_SCHEMAS);
const PREDICATE = "workspace_id = nullif(current_setting('app.workspace_id', true), '')::uuid";

/**
 * On the testkit's `env` (the file's own database, every migration applied), set up once per file:
 * - `db`: the bootstrap connection to it, which reads every schema's catalog.
 */
const test = engineTest.extend("db", { scope: "file" }, async ({ env }, { onCleanup }): Promise<Kysely<unknown>> => {
  const db = createDb<unknown>({ connectionString: env.databaseUrl, max: 2 });
  onCleanup(() => db.destroy());
  return db;
});

/** What Postgres prints for an expression: the predicate as `pg_policies` shows it. */
async function normalized(db: Kysely<unknown>, expression: string, table: string): Promise<string> {
  // A throwaway table with the same column type, so the expression deparses exactly as in pg_policies.
  return db.transaction().execute(async (tx) => {
    await sql`create temp table rls_probe (workspace_id uuid) on commit drop`.execute(tx);
    await sql.raw(`create policy probe on pg_temp.rls_probe using (${expression})`).execute(tx);
    const row = await sql<{ qual: string }>`select qual from pg_policies where tablename = 'rls_probe' and policyname = 'probe'`.execute(tx);
    const qual = row.rows[0]?.qual;
    if (!qual) throw new Error(`could not deparse the predicate for ${table}`);
    return qual;
  });
}

describe("every table with a workspace_id", () => {
  test("has ENABLE and FORCE row-level security, a USING and WITH CHECK policy on the workspace predicate, and an owner role that is not the login role", async ({ db }) => {
    const expected = await normalized(db, PREDICATE, "probe");
    const tables = await sql<{ schema: string; table: string; enabled: boolean; forced: boolean; owner: string }>`
      select n.nspname as schema, c.relname as table, c.relrowsecurity as enabled, c.relforcerowsecurity as forced, pg_get_userbyid(c.relowner) as owner
      from information_schema.columns col
      join pg_namespace n on n.nspname = col.table_schema
      join pg_class c on c.relnamespace = n.oid and c.relname = col.table_name
      where col.column_name = 'workspace_id' and col.table_schema = any(${SCHEMAS}::text[]) and c.relkind in ('r', 'p')
      order by 1, 2`.execute(db);
    const policies = await sql<{ schema: string; table: string; name: string; cmd: string; permissive: string; roles: string[]; qual: string | null; with_check: string | null }>`
      select schemaname as schema, tablename as table, policyname as name, cmd, permissive, roles::text[] as roles, qual, with_check
      from pg_policies where schemaname = any(${SCHEMAS}::text[])`.execute(db);

    // Every schema has tenant tables; an empty list would mean the query, not the schema, is wrong.
    const schemasSeen = new Set(tables.rows.map((t) => t.schema));
    expect([...schemasSeen].sort()).toEqual([...SCHEMAS].sort());

    const problems: string[] = [];
    for (const t of tables.rows) {
      const name = `${t.schema}.${t.table}`;
      if (!t.enabled) problems.push(`${name}: row-level security is not enabled`);
      if (!t.forced) problems.push(`${name}: row-level security is not forced`);
      if (t.owner !== `galaxy_${t.schema}_owner`) problems.push(`${name}: owned by ${t.owner}, not galaxy_${t.schema}_owner`);
      if (t.owner === `galaxy_${t.schema}`) problems.push(`${name}: owned by the login role, which bypasses its own policies`);
      const own = policies.rows.filter((p) => p.schema === t.schema && p.table === t.table);
      const guarding = own.filter((p) => p.cmd === "ALL" && p.permissive === "PERMISSIVE" && p.roles.includes("public") && p.qual === expected && p.with_check === expected);
      if (guarding.length === 0) problems.push(`${name}: no policy FOR ALL with USING and WITH CHECK (${PREDICATE}); has ${JSON.stringify(own.map((p) => [p.name, p.cmd, p.qual, p.with_check]))}`);
      // Permissive policies are OR-ed: any other one would widen what the workspace policy allows.
      for (const p of own.filter((p) => p.permissive === "PERMISSIVE" && !guarding.includes(p))) problems.push(`${name}: another permissive policy ${p.name} (${p.cmd}: ${p.qual} / ${p.with_check}) widens the workspace policy`);
    }
    expect(problems).toEqual([]);
    // The tables this test knows must be there (it would pass vacuously on an empty catalog).
    const names = tables.rows.map((t) => `${t.schema}.${t.table}`);
    for (const known of ["identity.members", "identity.workspaces", "identity.api_keys", "registry.agents", "execution.executions", "audit.audit_logs", "gateway.idempotency_keys"]) expect(names).toContain(known);
  });

  test("no login role owns a table or may bypass row-level security", async ({ db }) => {
    const roles = await sql<{ name: string; bypass: boolean; superuser: boolean; canLogin: boolean }>`
      select rolname as name, rolbypassrls as bypass, rolsuper as superuser, rolcanlogin as "canLogin" from pg_roles where rolname = any(${SCHEMAS.map((s) => `galaxy_${s}`)}::text[])`.execute(db);
    expect(roles.rows.map((r) => r.name).sort()).toEqual(SCHEMAS.map((s) => `galaxy_${s}`).sort());
    for (const role of roles.rows) expect(role, role.name).toMatchObject({ bypass: false, superuser: false, canLogin: true });
    const owned = await sql<{ name: string }>`
      select n.nspname || '.' || c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = any(${SCHEMAS}::text[]) and pg_get_userbyid(c.relowner) = any(${SCHEMAS.map((s) => `galaxy_${s}`)}::text[])`.execute(db);
    expect(owned.rows.map((r) => r.name)).toEqual([]);
  });
});

describe("security-definer functions", () => {
  /** A function named in the docs' table: `schema` is `undefined` for `<schema>.name` (every schema with an outbox). */
  interface DocumentedFunction {
    schema: string | undefined;
    name: string;
    row: string;
  }

  /** Every row of docs/security.md's security-definer table, each parsed to the function it names (a row that does not parse fails). */
  function documentedRows(): DocumentedFunction[] {
    const markdown = readFileSync(new URL("../docs/security.md", import.meta.url), "utf8");
    const section = markdown.split(/^## /m).find((s) => s.startsWith("Security-definer functions"));
    if (!section) throw new Error("docs/security.md has no 'Security-definer functions' section");
    const rows = section.split("\n").filter((line) => line.trimStart().startsWith("|"));
    // The header row and the separator row come first; every other row names one function.
    const [header, separator, ...body] = rows;
    if (!header || !/^\|\s*function\s*\|/.test(header) || !separator || !/^\|[\s|:-]+\|?\s*$/.test(separator)) throw new Error(`the security-definer table has an unexpected header: ${header ?? "(none)"}`);
    return body.map((row) => {
      const match = /^\|\s*`(?:(<schema>)|([a-z_][a-z0-9_]*))\.([a-z_][a-z0-9_]*)\([^`]*\)`[^|]*\|/.exec(row);
      const name = match?.[3];
      if (!match || !name) throw new Error(`a row of the security-definer table names no \`schema.function(args)\`: ${row}`);
      return { schema: match[1] ? undefined : match[2], name, row };
    });
  }

  /** The schemas with an outbox table: what `<schema>.` stands for in the docs. */
  async function outboxSchemas(db: Kysely<unknown>): Promise<string[]> {
    const rows = await sql<{ schema: string }>`
      select n.nspname as schema from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relname = 'outbox' and c.relkind in ('r', 'p') and n.nspname = any(${SCHEMAS}::text[]) order by 1`.execute(db);
    return rows.rows.map((r) => r.schema);
  }

  /** `schema.name` of every function named in docs/security.md; `<schema>.name` stands for every schema with an outbox. */
  async function documented(db: Kysely<unknown>): Promise<Set<string>> {
    const withOutbox = await outboxSchemas(db);
    const names = new Set<string>();
    for (const { schema, name } of documentedRows()) for (const s of schema === undefined ? withOutbox : [schema]) names.add(`${s}.${name}`);
    return names;
  }

  test("each one named in docs/security.md exists in the catalog as a security-definer function (a stale docs entry fails)", async ({ db }) => {
    const rows = documentedRows();
    expect(rows.length).toBeGreaterThan(5);
    // The generic rows are there, and stand for at least the schemas known to have an outbox.
    expect(rows.filter((r) => r.schema === undefined).map((r) => r.name).sort()).toEqual(["outbox_mark_published", "outbox_pending", "outbox_prune"]);
    const withOutbox = await outboxSchemas(db);
    for (const known of ["identity", "registry", "execution"]) expect(withOutbox).toContain(known);

    const definers = await sql<{ name: string }>`
      select n.nspname || '.' || p.proname as name from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where p.prosecdef and n.nspname = any(${SCHEMAS}::text[])`.execute(db);
    const present = new Set(definers.rows.map((r) => r.name));
    const problems: string[] = [];
    for (const { schema, name, row } of rows) {
      if (schema !== undefined && !SCHEMAS.includes(schema)) problems.push(`${schema}.${name}: docs name a schema that is not a service's (${row.slice(0, 80)})`);
      for (const s of schema === undefined ? withOutbox : [schema]) if (!present.has(`${s}.${name}`)) problems.push(`${s}.${name}: named in docs/security.md but no such security-definer function exists`);
    }
    expect(problems).toEqual([]);
  });

  test("each one is named in docs/security.md, owned by its schema's owner role, not executable by PUBLIC, and pins search_path", async ({ db }) => {
    const docs = await documented(db);
    expect(docs.size).toBeGreaterThan(5);
    const functions = await sql<{ schema: string; name: string; args: string; owner: string; config: string[] | null; publicExecute: boolean; executors: string[] }>`
      select n.nspname as schema, p.proname as name, pg_get_function_identity_arguments(p.oid) as args, pg_get_userbyid(p.proowner) as owner,
        p.proconfig as config, has_function_privilege('public', p.oid, 'EXECUTE') as "publicExecute",
        array(select r.rolname from pg_roles r where has_function_privilege(r.oid, p.oid, 'EXECUTE') and not r.rolsuper and r.rolname like 'galaxy\\_%' order by 1)::text[] as executors
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where p.prosecdef and n.nspname = any(${SCHEMAS}::text[])
      order by 1, 2`.execute(db);
    // The catalog holds the functions the docs describe (an empty result would pass everything below).
    for (const known of ["identity.api_key_by_hash", "registry.agent_exists_elsewhere", "execution.claim_queued_executions"]) expect(functions.rows.map((f) => `${f.schema}.${f.name}`)).toContain(known);

    const problems: string[] = [];
    for (const f of functions.rows) {
      const name = `${f.schema}.${f.name}(${f.args})`;
      if (!docs.has(`${f.schema}.${f.name}`)) problems.push(`${name}: not named in docs/security.md`);
      if (f.owner !== `galaxy_${f.schema}_owner`) problems.push(`${name}: owned by ${f.owner}, not galaxy_${f.schema}_owner`);
      if (f.publicExecute) problems.push(`${name}: executable by PUBLIC`);
      const searchPath = (f.config ?? []).find((c) => c.startsWith("search_path="));
      if (!searchPath) problems.push(`${name}: search_path is not pinned`);
      else if (!searchPath.split("=")[1]?.split(",").map((s) => s.trim()).every((s) => s === f.schema || s === "pg_temp")) problems.push(`${name}: search_path ${searchPath} reaches beyond ${f.schema}, pg_temp`);
      // Its own schema's roles alone: another service's login role must not reach across with it.
      const foreign = f.executors.filter((role) => role !== `galaxy_${f.schema}` && role !== `galaxy_${f.schema}_owner`);
      if (foreign.length > 0) problems.push(`${name}: executable by ${foreign.join(", ")}`);
    }
    expect(problems).toEqual([]);
  });
});
