import { Migrator, sql, type Kysely, type Migration, type MigrationResultSet } from "kysely";
import { createDb, ownerRole, schemaOf, type ServiceName } from "./connection";
import { quoteLiteral } from "./inline-parameters";

export type { Migration };

/** The row-level security policy of every tenant table (docs/security.md, Row-level security). */
const WORKSPACE_PREDICATE = "workspace_id = nullif(current_setting('app.workspace_id', true), '')::uuid";

/** ENABLE and FORCE row-level security on a tenant table, with USING and WITH CHECK. */
export async function enableWorkspaceRls(db: Kysely<unknown>, table: string): Promise<void> {
  await sql`alter table ${sql.table(table)} enable row level security`.execute(db);
  await sql`alter table ${sql.table(table)} force row level security`.execute(db);
  await sql`create policy workspace_isolation on ${sql.table(table)} using (${sql.raw(WORKSPACE_PREDICATE)}) with check (${sql.raw(WORKSPACE_PREDICATE)})`.execute(db);
}

export interface SecurityDefinerFunction {
  /** Function name, unqualified (created in the migration's schema). */
  name: string;
  /** e.g. `p_email text, p_limit int` */
  args: string;
  /** e.g. `table (id uuid, email text)` or `setof outbox` */
  returns: string;
  /** The body: SQL statements, or a PL/pgSQL block (`begin … end`) when `language` is `plpgsql`. */
  body: string;
  /**
   * `sql` (the default) for small bodies: Postgres plans a SQL function's body again at every
   * call. `plpgsql` keeps each statement's plan for the session, which pays for a large
   * statement called often (the claim: docs/decisions/0025).
   */
  language?: "sql" | "plpgsql";
  /** `stable` for reads, `volatile` for writes. */
  volatility?: "stable" | "volatile";
  /** Why it must see across workspaces; listed in docs/security.md. */
  reason: string;
}

/**
 * Declares one of the schema's few SECURITY DEFINER functions: owned by the owner role (so it
 * bypasses row-level security), search_path pinned, callable by the service's login role only.
 */
export async function createSecurityDefinerFunction(db: Kysely<unknown>, service: ServiceName, fn: SecurityDefinerFunction): Promise<void> {
  const qualified = await createFunction(db, service, fn, `language ${fn.language ?? "sql"} ${fn.volatility ?? "stable"} security definer`);
  await sql.raw(`comment on function ${qualified}(${fn.args}) is ${quoteLiteral(fn.reason)}`).execute(db);
}

export interface WorkspaceFunction {
  /** Function name, unqualified (created in the migration's schema). */
  name: string;
  /** e.g. `p_execution uuid, p_events jsonb` */
  args: string;
  /** e.g. `int` or `void` */
  returns: string;
  /** A PL/pgSQL block (`begin … end`, with its `declare`). */
  body: string;
}

/**
 * Declares a PL/pgSQL function that runs as its caller (SECURITY INVOKER), so row-level security
 * and the transaction's workspace apply to every statement in it as if the service sent them.
 * PL/pgSQL prepares each statement once per session and keeps its plan: for a large statement
 * called on every run, that saves parsing and planning it each time (docs/decisions/0026).
 * Volatile, reads too: a volatile function sees what its own transaction wrote before it (a
 * stable one works on the snapshot of the statement that called it). search_path pinned,
 * callable by the service's login role only.
 */
export async function createWorkspaceFunction(db: Kysely<unknown>, service: ServiceName, fn: WorkspaceFunction): Promise<void> {
  await createFunction(db, service, fn, "language plpgsql volatile security invoker");
}

/** Creates (or replaces) a function in the service's schema, search_path pinned, callable by the service's login role only; answers its qualified name. */
async function createFunction(db: Kysely<unknown>, service: ServiceName, fn: { name: string; args: string; returns: string; body: string }, attributes: string): Promise<string> {
  const schema = schemaOf(service);
  const qualified = `${schema}.${fn.name}`;
  await sql.raw(`create or replace function ${qualified}(${fn.args}) returns ${fn.returns} ${attributes} set search_path = ${schema}, pg_temp as $fn$ ${fn.body} $fn$`).execute(db);
  await sql.raw(`revoke all on function ${qualified}(${fn.args}) from public`).execute(db);
  await sql.raw(`grant execute on function ${qualified}(${fn.args}) to galaxy_${schema}`).execute(db);
  return qualified;
}

/**
 * Runs a service's migrations as its owner role, with Kysely's bookkeeping tables in the
 * service's own schema. Throws with the failing migration's error.
 */
export async function migrateService(bootstrapUrl: string, service: ServiceName, migrations: Record<string, Migration>): Promise<MigrationResultSet> {
  const schema = schemaOf(service);
  const db = createDb<unknown>({ connectionString: bootstrapUrl, role: ownerRole(service), schema, max: 1, applicationName: `galaxy-migrate-${service}` });
  try {
    const migrator = new Migrator({
      db,
      migrationTableSchema: schema,
      provider: { getMigrations: async () => migrations },
    });
    const result = await migrator.migrateToLatest();
    if (result.error) {
      const failed = result.results?.find((r) => r.status === "Error");
      throw new Error(`migration ${failed?.migrationName ?? "?"} of ${service} failed`, { cause: result.error });
    }
    // The schema's default privileges hand every new table to the login role; the migration
    // bookkeeping is the owner's alone.
    await sql.raw(`revoke all on ${schema}.kysely_migration, ${schema}.kysely_migration_lock from galaxy_${schema}`).execute(db);
    return result;
  } finally {
    await db.destroy();
  }
}
