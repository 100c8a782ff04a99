import { sql, type Insertable, type Kysely, type Transaction } from "@galaxy/db";
import { Role, type ApiKey, type PageQuery } from "@galaxy/contracts";
import type { IdentityDb } from "../db";
import type { ApiKeyRow, ApiKeysTable } from "./api-keys.table";

/** What the key look-up (security definer) tells about a presented key, before its workspace is known. */
export interface ApiKeyLookup {
  id: string;
  workspaceId: string;
  role: Role;
  createdBy: string;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

export async function insertApiKey(tx: Transaction<IdentityDb>, row: Insertable<ApiKeysTable>): Promise<ApiKeyRow> {
  return tx.insertInto("api_keys").values(row).returningAll().executeTakeFirstOrThrow();
}

/** The workspace's keys that are not revoked, newest first. */
export async function listApiKeys(tx: Transaction<IdentityDb>, workspaceId: string, page: PageQuery): Promise<{ rows: ApiKeyRow[]; total: number }> {
  const base = tx.selectFrom("api_keys").where("workspace_id", "=", workspaceId).where("revoked_at", "is", null);
  const rows = await base.selectAll().orderBy("created_at", "desc").orderBy("id", "desc").limit(page.limit).offset(page.offset).execute();
  const { total } = await base.select((eb) => eb.fn.countAll<string>().as("total")).executeTakeFirstOrThrow();
  return { rows, total: Number(total) };
}

export async function findApiKey(tx: Transaction<IdentityDb>, workspaceId: string, id: string): Promise<ApiKeyRow | undefined> {
  return tx.selectFrom("api_keys").selectAll().where("workspace_id", "=", workspaceId).where("id", "=", id).executeTakeFirst();
}

/** Marks the key revoked; undefined when it is not in this workspace or was revoked already. */
export async function revokeApiKey(tx: Transaction<IdentityDb>, workspaceId: string, id: string): Promise<ApiKeyRow | undefined> {
  return tx
    .updateTable("api_keys")
    .set({ revoked_at: new Date() })
    .where("workspace_id", "=", workspaceId)
    .where("id", "=", id)
    .where("revoked_at", "is", null)
    .returningAll()
    .executeTakeFirst();
}

/** Records a use, at most once a minute per key, so a busy key does not write on every claim. */
export async function touchApiKey(tx: Transaction<IdentityDb>, id: string): Promise<void> {
  await sql`update api_keys set last_used_at = now() where id = ${id} and (last_used_at is null or last_used_at < now() - interval '1 minute')`.execute(tx);
}

/** Finds a key by the SHA-256 of the presented key, in any workspace (security definer `api_key_by_hash`). */
export async function findApiKeyByHash(db: Kysely<IdentityDb>, keyHash: string): Promise<ApiKeyLookup | undefined> {
  const result = await sql<{ id: string; workspace_id: string; role: string; created_by: string; expires_at: Date | null; revoked_at: Date | null }>`
    select * from api_key_by_hash(${keyHash})`.execute(db);
  const row = result.rows[0];
  if (!row) return undefined;
  return { id: row.id, workspaceId: row.workspace_id, role: Role.parse(row.role), createdBy: row.created_by, expiresAt: row.expires_at, revokedAt: row.revoked_at };
}

/**
 * Whether the id is an API key of another workspace (security definer `api_key_exists_elsewhere`):
 * yes or no, never a row. Asked only after a look-up in the caller's workspace found nothing.
 */
export async function apiKeyExistsElsewhere(db: Kysely<IdentityDb>, id: string, workspaceId: string): Promise<boolean> {
  const result = await sql<{ found: boolean }>`select api_key_exists_elsewhere(${id}, ${workspaceId}) as found`.execute(db);
  return result.rows[0]?.found ?? false;
}

export function toApiKey(row: ApiKeyRow): ApiKey {
  return {
    id: row.id,
    name: row.name,
    role: Role.parse(row.role),
    prefix: row.prefix,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    expiresAt: row.expires_at?.toISOString() ?? null,
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
    revokedAt: row.revoked_at?.toISOString() ?? null,
  };
}
