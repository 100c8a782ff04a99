import { sql, type Kysely, type Transaction } from "@galaxy/db";
import type { ExternalIdentityRef } from "@galaxy/contracts";
import type { IdentityDb } from "../db";

export interface ExternalLink {
  userId: string;
  /** The provider's `updated_at` (ms) of the last change applied, if known. */
  sourceUpdatedAt: number | null;
}

/** The user an external identity is linked to (the user may be soft-deleted since). */
export async function findLink(db: Kysely<IdentityDb> | Transaction<IdentityDb>, ref: ExternalIdentityRef): Promise<ExternalLink | undefined> {
  const row = await db.selectFrom("external_identities").select(["user_id", "source_updated_at"]).where("issuer", "=", ref.issuer).where("subject", "=", ref.subject).executeTakeFirst();
  return row ? { userId: row.user_id, sourceUpdatedAt: row.source_updated_at === null ? null : Number(row.source_updated_at) } : undefined;
}

export async function insertLink(tx: Transaction<IdentityDb>, ref: ExternalIdentityRef, userId: string, sourceUpdatedAt: number | null): Promise<void> {
  await tx.insertInto("external_identities").values({ issuer: ref.issuer, subject: ref.subject, user_id: userId, source_updated_at: sourceUpdatedAt }).execute();
}

export async function touchLink(tx: Transaction<IdentityDb>, ref: ExternalIdentityRef, sourceUpdatedAt: number | null): Promise<void> {
  await tx.updateTable("external_identities").set({ source_updated_at: sourceUpdatedAt, updated_at: new Date() }).where("issuer", "=", ref.issuer).where("subject", "=", ref.subject).execute();
}

/** A user who signs in only through the external issuer: no password. */
export async function insertExternalUser(tx: Transaction<IdentityDb>, user: { id: string; email: string; name: string }): Promise<void> {
  await tx.insertInto("users").values({ id: user.id, email: user.email, name: user.name, password_hash: null, deleted_at: null }).execute();
}

export async function updateUserProfile(tx: Transaction<IdentityDb>, userId: string, profile: { email: string; name: string }): Promise<void> {
  await tx.updateTable("users").set({ email: profile.email, name: profile.name, updated_at: new Date() }).where("id", "=", userId).execute();
}

/** Soft-deletes a user: login, claims, `/api/me` and the user's API keys stop working. */
export async function softDeleteUser(tx: Transaction<IdentityDb>, userId: string): Promise<void> {
  await tx.updateTable("users").set({ deleted_at: new Date(), updated_at: new Date() }).where("id", "=", userId).where("deleted_at", "is", null).execute();
}

/**
 * Records a delivery's `webhook-id` before it is applied; false when it was recorded already
 * (a repeat, or one applied by a concurrent request, which this waits for).
 */
export async function claimDelivery(tx: Transaction<IdentityDb>, webhookId: string, type: string): Promise<boolean> {
  const row = await tx.insertInto("user_sync_deliveries").values({ webhook_id: webhookId, type, user_id: null, status: "pending" }).onConflict((oc) => oc.column("webhook_id").doNothing()).returning("webhook_id").executeTakeFirst();
  return row !== undefined;
}

export async function findDelivery(db: Kysely<IdentityDb> | Transaction<IdentityDb>, webhookId: string): Promise<{ userId: string | null; status: string } | undefined> {
  const row = await db.selectFrom("user_sync_deliveries").select(["user_id", "status"]).where("webhook_id", "=", webhookId).executeTakeFirst();
  return row ? { userId: row.user_id, status: row.status } : undefined;
}

export async function finishDelivery(tx: Transaction<IdentityDb>, webhookId: string, outcome: { userId: string | null; status: string }): Promise<void> {
  await tx.updateTable("user_sync_deliveries").set({ user_id: outcome.userId, status: outcome.status }).where("webhook_id", "=", webhookId).execute();
}

/** Serializes work on one key (an external identity, a user) until the transaction ends. */
export async function lockKey(tx: Transaction<IdentityDb>, key: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${`oidc:${key}`}, 0))`.execute(tx);
}
