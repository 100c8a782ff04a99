import { sql, type Kysely } from "kysely";
import { enableWorkspaceRls } from "@galaxy/db";

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table idempotency_keys (
      workspace_id uuid not null,
      principal text not null,
      key text not null,
      method text not null,
      path text not null,
      request_hash text not null,
      status int,
      response jsonb,
      created_at timestamptz not null default now(),
      expires_at timestamptz not null,
      primary key (workspace_id, principal, key)
    )`.execute(db);
  await sql`create index idempotency_keys_expiry on idempotency_keys (expires_at)`.execute(db);
  await enableWorkspaceRls(db, "idempotency_keys");
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table idempotency_keys`.execute(db);
}
