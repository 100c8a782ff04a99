import { sql, type Kysely } from "kysely";
import { enableWorkspaceRls } from "@galaxy/db";

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table audit_logs (
      id uuid primary key,
      workspace_id uuid not null,
      seq bigint not null check (seq >= 1),
      stream_seq bigint not null,
      actor_type text not null check (actor_type in ('user', 'api_key', 'service')),
      actor_id text not null,
      action text not null,
      resource_type text not null,
      resource_id text not null,
      changes jsonb,
      ip_address text,
      user_agent text,
      trace_id text,
      occurred_at text not null,
      occurred_at_ts timestamptz not null,
      hash text not null check (hash ~ '^[0-9a-f]{64}$'),
      prev_hash text not null check (prev_hash ~ '^[0-9a-f]{64}$'),
      created_at timestamptz not null default now(),
      constraint audit_logs_workspace_seq unique (workspace_id, seq)
    )`.execute(db);
  await sql`create index audit_logs_action on audit_logs (workspace_id, action)`.execute(db);
  await sql`create index audit_logs_resource on audit_logs (workspace_id, resource_type, resource_id)`.execute(db);
  await sql`create index audit_logs_actor on audit_logs (workspace_id, actor_id)`.execute(db);
  await sql`create index audit_logs_occurred_at on audit_logs (workspace_id, occurred_at_ts)`.execute(db);
  await enableWorkspaceRls(db, "audit_logs");

  await sql`create table audit_checkpoints (
      workspace_id uuid primary key,
      seq bigint not null check (seq >= 1),
      hash text not null check (hash ~ '^[0-9a-f]{64}$'),
      created_at timestamptz not null default now()
    )`.execute(db);
  await enableWorkspaceRls(db, "audit_checkpoints");

  // The schema's default privileges give the login role every write on every table. The
  // log is append-only; a checkpoint is only ever written together with the removal of the
  // prefix it stands for, which retention will do in one security-definer function.
  await sql`revoke update, delete, truncate on audit_logs from galaxy_audit`.execute(db);
  await sql`revoke insert, update, delete, truncate on audit_checkpoints from galaxy_audit`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ["audit_checkpoints", "audit_logs"]) await sql`drop table if exists ${sql.table(table)} cascade`.execute(db);
}
