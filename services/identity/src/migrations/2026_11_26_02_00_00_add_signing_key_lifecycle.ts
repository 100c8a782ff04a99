import { sql, type Kysely } from "kysely";

/**
 * Signing keys rotate and can be revoked (docs/bus.md): a new key is `pending` (published in
 * the JWKS, not signing) until `activates_at`, when it becomes `active` and the one before
 * `retired`; a revoked key leaves the JWKS. At most one key is active.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table signing_keys drop constraint if exists signing_keys_status_check`.execute(db);
  await sql`alter table signing_keys add constraint signing_keys_status_check check (status in ('pending', 'active', 'retired', 'revoked'))`.execute(db);
  await sql`alter table signing_keys add column activates_at timestamptz`.execute(db);
  await sql`alter table signing_keys add column revoked_at timestamptz`.execute(db);
  await sql`create unique index signing_keys_one_active on signing_keys ((true)) where status = 'active'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists signing_keys_one_active`.execute(db);
  await sql`alter table signing_keys drop column if exists revoked_at`.execute(db);
  await sql`alter table signing_keys drop column if exists activates_at`.execute(db);
  await sql`alter table signing_keys drop constraint if exists signing_keys_status_check`.execute(db);
  await sql`alter table signing_keys add constraint signing_keys_status_check check (status in ('active', 'retired', 'revoked'))`.execute(db);
}
