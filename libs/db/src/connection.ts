import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";

export { sql };
export type { Kysely };

// Postgres bigint (int8) as a JS number: Galaxy's counters (seq, tokens) stay far below 2^53.
pg.types.setTypeParser(20, (value) => Number.parseInt(value, 10));

/** The five services that own a schema, and the schema each owns. */
export const SERVICE_SCHEMAS = {
  gateway: "gateway",
  identity: "identity",
  "agent-registry": "registry",
  "execution-worker": "execution",
  audit: "audit",
} as const;
export type ServiceName = keyof typeof SERVICE_SCHEMAS;

export function schemaOf(service: ServiceName): string {
  return SERVICE_SCHEMAS[service];
}

/** `galaxy_<schema>`: the login role the service runs as. */
export function loginRole(service: ServiceName): string {
  return `galaxy_${schemaOf(service)}`;
}

/** `galaxy_<schema>_owner`: owns the tables and security-definer functions; migrations run as it. */
export function ownerRole(service: ServiceName): string {
  return `galaxy_${schemaOf(service)}_owner`;
}

/** The bootstrap URL with another user (and, optionally, database). */
export function withUser(url: string, user: string, database?: string): string {
  const parsed = new URL(url);
  parsed.username = user;
  parsed.password = "";
  if (database) parsed.pathname = `/${database}`;
  return parsed.toString();
}

export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, "")) || "postgres";
}

export interface DbOptions {
  connectionString: string;
  /** The schema put first on the search path. */
  schema?: string;
  /** A role to `SET ROLE` to on every connection (migrations run as the owner role). */
  role?: string;
  max?: number;
  applicationName?: string;
  /** Told when an idle pooled connection fails (e.g. Postgres restarted); the pool replaces it. */
  onIdleError?: (error: Error) => void;
}

/** A Kysely instance over a pg pool; close it with `db.destroy()`. */
export function createDb<DB>(options: DbOptions): Kysely<DB> {
  const settings = [
    options.role ? `-c role=${options.role}` : "",
    options.schema ? `-c search_path=${options.schema}` : "",
  ].filter(Boolean);
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 10,
    application_name: options.applicationName ?? "galaxy",
    ...(settings.length > 0 ? { options: settings.join(" ") } : {}),
  });
  // Without a listener, an idle connection that Postgres drops would crash the process.
  pool.on("error", (error) => options.onIdleError?.(error));
  // A connection in use (audit's consumer lock holds one for as long as it runs) that Postgres
  // drops between queries reports it only as this event: without a listener that too would
  // crash the process. Its next query fails, and the pool then drops it.
  pool.on("connect", (client) => client.on("error", () => undefined));
  return new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
}

/** Connects as the service's login role to its schema. */
export function createServiceDb<DB>(bootstrapUrl: string, service: ServiceName, options: { max?: number; onIdleError?: (error: Error) => void } = {}): Kysely<DB> {
  return createDb<DB>({
    connectionString: withUser(bootstrapUrl, loginRole(service)),
    schema: schemaOf(service),
    applicationName: `galaxy-${service}`,
    ...(options.max !== undefined ? { max: options.max } : {}),
    ...(options.onIdleError ? { onIdleError: options.onIdleError } : {}),
  });
}

/** True when a trivial query answers. */
export async function isDbReachable<DB>(db: Kysely<DB>): Promise<boolean> {
  try {
    await sql`select 1`.execute(db);
    return true;
  } catch {
    return false;
  }
}
