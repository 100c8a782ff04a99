import { sql, type Kysely } from "kysely";
import { createSecurityDefinerFunction, enableWorkspaceRls } from "@galaxy/db";

export async function up(db: Kysely<unknown>): Promise<void> {
  // key_hash is a plain SHA-256 of the whole key: the key carries 256 random bits, so there is
  // nothing to guess and no salt or slow hash is needed, and an unsalted hash is what lets the
  // key be found by it (with a slow salted hash every row would have to be tried).
  await sql`create table api_keys (
      id uuid primary key,
      workspace_id uuid not null references workspaces (id),
      name text not null,
      role text not null check (role in ('viewer', 'member', 'admin', 'owner')),
      prefix text not null,
      key_hash text not null,
      created_by uuid not null references users (id),
      created_at timestamptz not null default now(),
      expires_at timestamptz,
      revoked_at timestamptz,
      last_used_at timestamptz
    )`.execute(db);
  await sql`create unique index api_keys_key_hash on api_keys (key_hash)`.execute(db);
  await sql`create index api_keys_workspace on api_keys (workspace_id, created_at)`.execute(db);
  await enableWorkspaceRls(db, "api_keys");

  await createSecurityDefinerFunction(db, "identity", {
    name: "api_key_by_hash",
    args: "p_hash text",
    returns: "table (id uuid, workspace_id uuid, role text, created_by uuid, expires_at timestamptz, revoked_at timestamptz)",
    body: "select k.id, k.workspace_id, k.role, k.created_by, k.expires_at, k.revoked_at from api_keys k where k.key_hash = p_hash",
    reason: "An API key names no workspace: the gateway presents only the key, so its row must be found by its hash before the workspace is known.",
  });
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function if exists api_key_by_hash(text)`.execute(db);
  await sql`drop table if exists api_keys cascade`.execute(db);
}
