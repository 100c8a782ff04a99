import type { CredentialProvider, CredentialSummary } from "@galaxy/contracts";
import { sql, type Kysely, type Transaction } from "@galaxy/db";
import type { IdentityDb } from "../db";
import type { ProviderCredentialRow } from "./credentials.table";

type Tx = Transaction<IdentityDb>;

export interface CredentialWrite {
  workspaceId: string;
  provider: CredentialProvider;
  ciphertext: string;
  baseUrl: string | null;
  last4: string;
  keyId: string;
  updatedBy: string;
}

/** Inserts or replaces the workspace's credential for a provider. */
export async function upsertCredential(tx: Tx, write: CredentialWrite): Promise<ProviderCredentialRow> {
  const values = {
    workspace_id: write.workspaceId,
    provider: write.provider,
    ciphertext: write.ciphertext,
    base_url: write.baseUrl,
    last4: write.last4,
    key_id: write.keyId,
    updated_by: write.updatedBy,
    updated_at: new Date(),
  };
  return tx
    .insertInto("provider_credentials")
    .values(values)
    .onConflict((oc) =>
      oc.columns(["workspace_id", "provider"]).doUpdateSet({
        ciphertext: values.ciphertext,
        base_url: values.base_url,
        last4: values.last4,
        key_id: values.key_id,
        updated_by: values.updated_by,
        updated_at: values.updated_at,
      }),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function findCredential(tx: Tx, workspaceId: string, provider: CredentialProvider): Promise<ProviderCredentialRow | undefined> {
  return tx.selectFrom("provider_credentials").selectAll().where("workspace_id", "=", workspaceId).where("provider", "=", provider).executeTakeFirst();
}

/** The workspace's credentials without their ciphertext. */
export async function listCredentials(tx: Tx, workspaceId: string, page: { limit: number; offset: number }): Promise<{ items: CredentialSummary[]; total: number }> {
  const rows = await tx
    .selectFrom("provider_credentials")
    .select(["provider", "last4", "base_url", "updated_at"])
    .where("workspace_id", "=", workspaceId)
    .orderBy("provider")
    .execute();
  const items = rows.map((row) => ({ provider: row.provider, last4: row.last4, baseUrl: row.base_url, updatedAt: row.updated_at.toISOString() }));
  return { items: items.slice(page.offset, page.offset + page.limit), total: items.length };
}

export async function deleteCredential(tx: Tx, workspaceId: string, provider: CredentialProvider): Promise<boolean> {
  const deleted = await tx.deleteFrom("provider_credentials").where("workspace_id", "=", workspaceId).where("provider", "=", provider).returning("provider").executeTakeFirst();
  return deleted !== undefined;
}

/** Rows sealed under another master key than `keyId`, in every workspace (security definer: ids only). */
export async function credentialsToReseal(db: Kysely<IdentityDb>, keyId: string, limit: number): Promise<Array<{ workspaceId: string; provider: CredentialProvider }>> {
  const result = await sql<{ workspace_id: string; provider: CredentialProvider }>`select * from provider_credentials_to_reseal(${keyId}, ${limit})`.execute(db);
  return result.rows.map((row) => ({ workspaceId: row.workspace_id, provider: row.provider }));
}

/** Replaces a ciphertext sealed under an older master key, unless the row changed meanwhile. */
export async function resealCredential(tx: Tx, row: ProviderCredentialRow, ciphertext: string, keyId: string): Promise<void> {
  await tx
    .updateTable("provider_credentials")
    .set({ ciphertext, key_id: keyId })
    .where("workspace_id", "=", row.workspace_id)
    .where("provider", "=", row.provider)
    .where("ciphertext", "=", row.ciphertext)
    .execute();
}
