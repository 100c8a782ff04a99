import pg from "pg";
import { databaseName, loginRole, ownerRole, schemaOf, withUser, type ServiceName } from "./connection";
import { connectionSettings } from "./tls";

function ident(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`unsafe SQL identifier: ${name}`);
  return `"${name}"`;
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(connectionSettings(url));
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

// Roles are cluster-wide and several processes (make up, parallel test files) may bootstrap
// at once: one advisory lock serializes role creation.
const ROLE_LOCK = 7_114_215;

/** Creates the database named in `bootstrapUrl` when it does not exist yet. */
export async function ensureDatabase(bootstrapUrl: string): Promise<void> {
  const name = databaseName(bootstrapUrl);
  await withClient(withUser(bootstrapUrl, new URL(bootstrapUrl).username || "postgres", "postgres"), async (client) => {
    const exists = await client.query("select 1 from pg_database where datname = $1", [name]);
    if (exists.rowCount === 0) {
      try {
        await client.query(`create database ${ident(name)}`);
      } catch (error) {
        // Another process created it between our check and our create.
        if (!(error instanceof Error && "code" in error && error.code === "42P04")) throw error;
      }
    }
  });
}

/**
 * Creates one service's two roles (docs/operations.md, Database users) if missing. Needs a
 * superuser (or CREATEROLE). With a password, the login role gets it, set again on every run
 * (that is how it is rotated); without one, it is left as it is.
 */
export async function ensureRoles(bootstrapUrl: string, service: ServiceName, loginPassword?: string): Promise<void> {
  const owner = ownerRole(service);
  const login = loginRole(service);
  await withClient(bootstrapUrl, async (client) => {
    await client.query("select pg_advisory_lock($1)", [ROLE_LOCK]);
    try {
      const has = async (role: string) => ((await client.query("select 1 from pg_roles where rolname = $1", [role])).rowCount ?? 0) > 0;
      if (!(await has(owner))) await client.query(`create role ${ident(owner)} nologin bypassrls`);
      if (!(await has(login))) await client.query(`create role ${ident(login)} login nobypassrls nosuperuser noinherit`);
      // Sent as a literal, hashed by the server (password_encryption, SCRAM by default): roles take no bind parameters.
      if (loginPassword) await client.query(`alter role ${ident(login)} with password ${client.escapeLiteral(loginPassword)}`);
    } finally {
      await client.query("select pg_advisory_unlock($1)", [ROLE_LOCK]);
    }
  });
}

/**
 * Creates the service's schema in the database of `bootstrapUrl`, owned by its owner role,
 * with the login role allowed to use it and nothing else; tables the owner creates later
 * are readable and writable by the login role (default privileges), never alterable.
 */
export async function ensureSchema(bootstrapUrl: string, service: ServiceName): Promise<void> {
  const schema = ident(schemaOf(service));
  const owner = ident(ownerRole(service));
  const login = ident(loginRole(service));
  await withClient(bootstrapUrl, async (client) => {
    await client.query("begin");
    await client.query("select pg_advisory_xact_lock($1)", [ROLE_LOCK]);
    await client.query(`create schema if not exists ${schema} authorization ${owner}`);
    await client.query(`revoke all on schema ${schema} from public`);
    await client.query(`grant usage on schema ${schema} to ${login}`);
    await client.query(`alter default privileges for role ${owner} in schema ${schema} grant select, insert, update, delete on tables to ${login}`);
    await client.query(`alter default privileges for role ${owner} in schema ${schema} grant usage, select on sequences to ${login}`);
    await client.query(`alter default privileges for role ${owner} in schema ${schema} revoke execute on functions from public`);
    await client.query(`revoke create on schema public from public`);
    await client.query(`grant connect on database ${ident(databaseName(bootstrapUrl))} to ${login}`);
    await client.query("commit");
  });
}

export async function bootstrapService(bootstrapUrl: string, service: ServiceName, loginPassword?: string): Promise<void> {
  await ensureRoles(bootstrapUrl, service, loginPassword);
  await ensureSchema(bootstrapUrl, service);
}
