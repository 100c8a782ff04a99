import { z } from "zod";
import { Uuid, WorkspaceId } from "./ids";
import { Email } from "./identity";

/**
 * Algorithms an external OIDC issuer's ID tokens may use. RS256 is accepted for that issuer
 * alone (docs/api.md); Galaxy's own tokens stay EdDSA/ES256.
 */
export const EXTERNAL_TOKEN_ALGORITHMS = ["RS256", "ES256"] as const;

/** `POST /api/auth/exchange`: an ID token of the configured OIDC issuer (docs/api.md). */
export const ExchangeBody = z
  .object({ idToken: z.string().min(1).max(16_384), workspaceId: WorkspaceId.optional() })
  .strict();
export type ExchangeBody = z.infer<typeof ExchangeBody>;

/**
 * The claims Galaxy reads from a verified external ID token; everything else is ignored.
 * `email_verified: false` refuses a token that would create or link a user.
 */
export const ExternalTokenClaims = z.object({
  sub: z.string().min(1).max(255),
  email: Email.optional(),
  email_verified: z.boolean().optional(),
  /** Blank is taken as absent; cut to 200 characters. */
  name: z.string().max(2_000).optional(),
});
export type ExternalTokenClaims = z.infer<typeof ExternalTokenClaims>;

/** One email address of a Clerk user object (the fields Galaxy reads). */
export const ClerkEmailAddress = z.object({
  id: z.string(),
  email_address: z.string().max(320),
  verification: z.object({ status: z.string() }).nullable().optional(),
});
export type ClerkEmailAddress = z.infer<typeof ClerkEmailAddress>;

/**
 * A Clerk user object as `user.created` and `user.updated` carry it: the fields Galaxy reads;
 * the rest (metadata, phone numbers…) is stripped before it crosses the bus.
 */
export const ClerkUser = z
  .object({
    id: z.string().min(1).max(255),
    email_addresses: z.array(ClerkEmailAddress).max(100),
    primary_email_address_id: z.string().nullable().optional(),
    first_name: z.string().max(200).nullable().optional(),
    last_name: z.string().max(200).nullable().optional(),
    username: z.string().max(200).nullable().optional(),
    /** Milliseconds since the epoch; orders updates that arrive out of order. */
    updated_at: z.number().int().nonnegative().optional(),
  });
export type ClerkUser = z.infer<typeof ClerkUser>;

/** A Clerk user-sync webhook payload (Standard Webhooks signed), the three types Galaxy applies; other fields are stripped. */
export const ClerkUserEvent = z.discriminatedUnion("type", [
  z.object({ type: z.literal("user.created"), data: ClerkUser }),
  z.object({ type: z.literal("user.updated"), data: ClerkUser }),
  z.object({ type: z.literal("user.deleted"), data: z.object({ id: z.string().min(1).max(255), deleted: z.boolean().optional() }) }),
]);
export type ClerkUserEvent = z.infer<typeof ClerkUserEvent>;

/** `svc.identity.users.sync`: a verified delivery, keyed by its `webhook-id` (repeats change nothing). */
export const UserSyncRequest = z
  .object({ webhookId: z.string().min(1).max(255), event: ClerkUserEvent })
  .strict();
export type UserSyncRequest = z.infer<typeof UserSyncRequest>;

/** What a sync delivery did: `applied`, `duplicate` (this webhook-id was seen), or `skipped` (nothing to do). */
export const UserSyncResult = z.object({
  status: z.enum(["applied", "duplicate", "skipped"]),
  userId: Uuid.nullable(),
  reason: z.string().optional(),
});
export type UserSyncResult = z.infer<typeof UserSyncResult>;

/** The external identity a user event is about: the issuer and its subject (e.g. a Clerk user id). */
export const ExternalIdentityRef = z.object({ issuer: z.string(), subject: z.string() });
export type ExternalIdentityRef = z.infer<typeof ExternalIdentityRef>;

const UserSyncSource = z.enum(["exchange", "webhook"]);

/** System-workspace event: a user was created from an external identity. */
export const UserCreated = z.object({
  userId: Uuid,
  email: z.string(),
  name: z.string(),
  external: ExternalIdentityRef,
  source: UserSyncSource,
  webhookId: z.string().nullable(),
});
export type UserCreated = z.infer<typeof UserCreated>;

/** System-workspace event: an existing user (same verified email) was linked to an external identity. */
export const UserLinked = z.object({ userId: Uuid, email: z.string(), external: ExternalIdentityRef, source: UserSyncSource, webhookId: z.string().nullable() });
export type UserLinked = z.infer<typeof UserLinked>;

/** System-workspace event: the provider changed a user's email or name. */
export const UserUpdated = z.object({
  userId: Uuid,
  email: z.string(),
  name: z.string(),
  before: z.object({ email: z.string(), name: z.string() }),
  external: ExternalIdentityRef,
  webhookId: z.string().nullable(),
});
export type UserUpdated = z.infer<typeof UserUpdated>;

/** System-workspace event: the provider deleted a user; the user is soft-deleted and its tokens stop working. */
export const UserDeleted = z.object({ userId: Uuid, external: ExternalIdentityRef, webhookId: z.string().nullable() });
export type UserDeleted = z.infer<typeof UserDeleted>;
