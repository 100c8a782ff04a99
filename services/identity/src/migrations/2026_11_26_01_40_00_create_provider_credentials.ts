import { sql, type Kysely } from "kysely";
import { createSecurityDefinerFunction, enableWorkspaceRls } from "@galaxy/db";

export async function up(db: Kysely<unknown>): Promise<void> {
  // One key per provider per workspace. `ciphertext` is the SecretBox seal of the key
  // (`v1.<keyId>.…`); `key_id` repeats the master key id so a rotation can find what is left
  // to re-seal without opening anything.
  await sql`create table provider_credentials (
      workspace_id uuid not null references workspaces (id),
      provider text not null check (provider in ('openai', 'anthropic', 'pinecone')),
      ciphertext text not null,
      base_url text,
      last4 text not null,
      key_id text not null,
      updated_at timestamptz not null default now(),
      updated_by text not null,
      primary key (workspace_id, provider)
    )`.execute(db);
  await enableWorkspaceRls(db, "provider_credentials");
  await createSecurityDefinerFunction(db, "identity", {
    name: "provider_credentials_to_reseal",
    args: "p_key_id text, p_limit int",
    returns: "table (workspace_id uuid, provider text)",
    body: "select workspace_id, provider from provider_credentials where key_id <> p_key_id order by workspace_id, provider limit p_limit",
    reason: "After GALAXY_MASTER_KEY rotates, identity seals every workspace's provider keys again under the new key; it must find the rows an older key sealed across workspaces (ids only, never a ciphertext).",
  });
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function if exists provider_credentials_to_reseal(text, int)`.execute(db);
  await sql`drop table if exists provider_credentials`.execute(db);
}
