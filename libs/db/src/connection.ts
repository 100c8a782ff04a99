import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { connectionSettings } from "./tls";

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

/**
 * The bootstrap URL with another user (and, optionally, database). The password stays only
 * when the user does: the bootstrap user's password is never offered on another role's behalf.
 */
export function withUser(url: string, user: string, database?: string): string {
  const parsed = new URL(url);
  if (decodeURIComponent(parsed.username) !== user) parsed.password = "";
  parsed.username = encodeURIComponent(user);
  if (database) parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

/** `url` logging in as `user` with `password` (none when undefined). */
export function withLogin(url: string, user: string, password: string | undefined): string {
  const parsed = new URL(withUser(url, user));
  if (password) parsed.password = encodeURIComponent(password);
  return parsed.toString();
}

/** `GALAXY_<SERVICE>_<setting>`, the name of one of a service's own variables (GALAXY_AGENT_REGISTRY_DB_PASSWORD). */
export function serviceVariable(service: ServiceName, setting: "DB_PASSWORD" | "DATABASE_URL"): string {
  return `GALAXY_${service.toUpperCase().replace(/-/g, "_")}_${setting}`;
}

/**
 * How a service logs in (docs/operations.md, Database users): its own full URL when
 * `GALAXY_<SERVICE>_DATABASE_URL` is set; else the bootstrap URL's host and database as its
 * login role, with `GALAXY_<SERVICE>_DB_PASSWORD` when set (none, on a trust-auth machine).
 */
export function serviceDatabaseUrl(bootstrapUrl: string, service: ServiceName, env: NodeJS.ProcessEnv = process.env): string {
  const own = env[serviceVariable(service, "DATABASE_URL")];
  if (own) return own;
  return withLogin(bootstrapUrl, loginRole(service), env[serviceVariable(service, "DB_PASSWORD")]);
}

/** The password `setup` gives the service's login role, if any: its own variable, else its own URL's. */
export function serviceLoginPassword(service: ServiceName, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const password = env[serviceVariable(service, "DB_PASSWORD")];
  if (password) return password;
  const own = env[serviceVariable(service, "DATABASE_URL")];
  if (!own) return undefined;
  const parsed = new URL(own);
  return decodeURIComponent(parsed.username) === loginRole(service) && parsed.password ? decodeURIComponent(parsed.password) : undefined;
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
  /** Where `DATABASE_SSL_MODE` and `DATABASE_SSL_CA_FILE` are read (default: the process's environment). */
  env?: NodeJS.ProcessEnv;
}

/** A Kysely instance over a pg pool; close it with `db.destroy()`. */
export function createDb<DB>(options: DbOptions): Kysely<DB> {
  const settings = [
    options.role ? `-c role=${options.role}` : "",
    options.schema ? `-c search_path=${options.schema}` : "",
    // Galaxy's statements are short: compiling one with LLVM (PostgreSQL's default above an
    // estimated cost of 100,000) took about 50 ms of CPU a call where running it takes one
    // (docs/decisions/0034-no-jit-compilation.md).
    "-c jit=off",
  ].filter(Boolean);
  const pool = new pg.Pool({
    ...connectionSettings(options.connectionString, options.env),
    max: options.max ?? 10,
    application_name: options.applicationName ?? "galaxy",
    options: settings.join(" "),
  });
  // Without a listener, an idle connection that Postgres drops would crash the process.
  pool.on("error", (error) => options.onIdleError?.(error));
  // A connection in use (audit's consumer lock holds one for as long as it runs) that Postgres
  // drops between queries reports it only as this event: without a listener that too would
  // crash the process. Its next query fails, and the pool then drops it.
  pool.on("connect", (client) => client.on("error", () => undefined));
  return new PooledKysely<DB>(pool);
}

/** The pool under each database handle `createDb` made, while it is not destroyed: workspace transactions (workspace-tx.ts) use its clients directly. */
const POOLS = new WeakMap<object, pg.Pool>();

/** A Kysely handle over a pool that workspace transactions may also use; destroying it ends the pool, whoever used it. */
class PooledKysely<DB> extends Kysely<DB> {
  constructor(private readonly pool: pg.Pool) {
    super({ dialect: new PostgresDialect({ pool }) });
    POOLS.set(this, pool);
  }

  override async destroy(): Promise<void> {
    POOLS.delete(this);
    await super.destroy();
    // Kysely ends the pool only if it queried through it itself.
    if (!this.pool.ending) await this.pool.end();
  }
}

/** The pool of a handle `createDb` made; undefined for any other. */
export function poolOf(db: object): pg.Pool | undefined {
  return POOLS.get(db);
}

/** Connects as the service's login role to its schema (`env`: see serviceDatabaseUrl). */
export function createServiceDb<DB>(bootstrapUrl: string, service: ServiceName, options: { max?: number; onIdleError?: (error: Error) => void; env?: NodeJS.ProcessEnv } = {}): Kysely<DB> {
  return createDb<DB>({
    connectionString: serviceDatabaseUrl(bootstrapUrl, service, options.env),
    ...(options.env ? { env: options.env } : {}),
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
