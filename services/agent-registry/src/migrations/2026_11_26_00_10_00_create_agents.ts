import { sql, type Kysely } from "kysely";
import { createOutbox, enableWorkspaceRls } from "@galaxy/db";

export async function up(db: Kysely<unknown>): Promise<void> {
  // `name` and `description` repeat the current version's config so lists and searches need
  // no join into the versions; the version row stays the source of truth for everything else.
  await sql`create table agents (
      id uuid primary key,
      workspace_id uuid not null,
      name text not null,
      description text,
      status text not null check (status in ('draft', 'active', 'paused')),
      current_version int not null check (current_version >= 1),
      created_by text not null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      deleted_at timestamptz,
      unique (workspace_id, id)
    )`.execute(db);
  await sql`create index agents_listing on agents (workspace_id, created_at desc, id desc) where deleted_at is null`.execute(db);
  await enableWorkspaceRls(db, "agents");

  // The foreign key names the workspace too, so a version can never belong to an agent of
  // another workspace.
  await sql`create table agent_versions (
      workspace_id uuid not null,
      agent_id uuid not null,
      version int not null check (version >= 1),
      config jsonb not null,
      created_by text not null,
      created_at timestamptz not null default now(),
      primary key (agent_id, version),
      foreign key (workspace_id, agent_id) references agents (workspace_id, id)
    )`.execute(db);
  await enableWorkspaceRls(db, "agent_versions");

  await createOutbox(db, "agent-registry");
}

export async function down(db: Kysely<unknown>): Promise<void> {
  // The relay's functions do not depend on the outbox table in Postgres' eyes: drop them by name.
  await sql`drop function if exists outbox_pending(int, int)`.execute(db);
  await sql`drop function if exists outbox_mark_published(uuid[])`.execute(db);
  for (const table of ["outbox", "agent_versions", "agents"]) await sql`drop table if exists ${sql.table(table)} cascade`.execute(db);
}
