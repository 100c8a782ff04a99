import { sql, type Kysely } from "kysely";
import { createOutbox, createSecurityDefinerFunction, enableWorkspaceRls } from "@galaxy/db";

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table users (
      id uuid primary key,
      email text not null,
      name text not null,
      password_hash text,
      system_admin boolean not null default false,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      deleted_at timestamptz
    )`.execute(db);
  await sql`create unique index users_email on users (lower(email)) where deleted_at is null`.execute(db);

  // A workspace row is its own tenant: its RLS column is its id.
  await sql`create table workspaces (
      id uuid primary key,
      workspace_id uuid generated always as (id) stored,
      name text not null,
      slug text not null,
      settings jsonb not null default '{}',
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      deleted_at timestamptz
    )`.execute(db);
  await sql`create unique index workspaces_slug on workspaces (slug)`.execute(db);
  await enableWorkspaceRls(db, "workspaces");

  await sql`create table members (
      workspace_id uuid not null references workspaces (id),
      user_id uuid not null references users (id),
      role text not null check (role in ('viewer', 'member', 'admin', 'owner')),
      permissions jsonb not null default '{}',
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      primary key (workspace_id, user_id)
    )`.execute(db);
  await sql`create index members_user on members (user_id)`.execute(db);
  await enableWorkspaceRls(db, "members");

  await sql`create table signing_keys (
      kid text primary key,
      alg text not null,
      public_jwk jsonb not null,
      private_jwk_ciphertext text not null,
      status text not null check (status in ('active', 'retired', 'revoked')),
      created_at timestamptz not null default now(),
      retired_at timestamptz
    )`.execute(db);

  await createOutbox(db, "identity");

  await createSecurityDefinerFunction(db, "identity", {
    name: "user_memberships",
    args: "p_user_id uuid",
    returns: "table (workspace_id uuid, name text, slug text, role text, joined_at timestamptz)",
    body: `select w.id, w.name, w.slug, m.role, m.created_at from members m join workspaces w on w.id = m.workspace_id
           where m.user_id = p_user_id and w.deleted_at is null order by m.created_at, w.id`,
    reason: "Login, /api/me and workspace lists need every workspace a user belongs to, before one is chosen.",
  });
  await createSecurityDefinerFunction(db, "identity", {
    name: "slug_taken",
    args: "p_slug text",
    returns: "boolean",
    body: "select exists (select 1 from workspaces where slug = p_slug)",
    reason: "Workspace slugs are unique across Galaxy; a new workspace must know whether another one holds its slug.",
  });
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ["outbox", "signing_keys", "members", "workspaces", "users"]) await sql`drop table if exists ${sql.table(table)} cascade`.execute(db);
}
