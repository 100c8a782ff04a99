import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  // A user's identity at an external OIDC issuer (Clerk, Auth0): issuer + subject → user.
  // No workspace_id (a user belongs to no one workspace, like `users`), so no row-level
  // security: identity reads it before any workspace is known, at exchange and user sync.
  await sql`create table external_identities (
      issuer text not null,
      subject text not null,
      user_id uuid not null references users (id),
      source_updated_at bigint,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      primary key (issuer, subject)
    )`.execute(db);
  await sql`create index external_identities_user on external_identities (user_id)`.execute(db);

  // Provider webhook deliveries already applied, by webhook-id: a repeat changes nothing.
  await sql`create table user_sync_deliveries (
      webhook_id text primary key,
      type text not null,
      user_id uuid,
      status text not null,
      processed_at timestamptz not null default now()
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists user_sync_deliveries`.execute(db);
  await sql`drop table if exists external_identities`.execute(db);
}
