import { z } from "zod";
import { AuditEntry } from "./audit";
import { Email } from "./identity";
import { IsoDateTime, Uuid, WorkspaceId } from "./ids";
import { CursorPageQuery } from "./pagination";

/**
 * What operators do: grant `system_admin`, rotate and revoke identity's signing keys, read
 * security incidents across workspaces. The CLI makes the `identity.operator.*` requests over
 * NATS (in production only its NATS user may, `infra/nats/`); system admins reach the same
 * operations through `/api/admin/*` with an operator claim.
 */

/** `galaxy admin grant-system-admin <email>`. */
export const GrantSystemAdminRequest = z.object({ email: Email }).strict();
export type GrantSystemAdminRequest = z.infer<typeof GrantSystemAdminRequest>;

/** `changed` is false when the user was a system admin already (no event then). */
export const SystemAdminGrant = z.object({ userId: Uuid, email: z.string(), systemAdmin: z.literal(true), changed: z.boolean() });
export type SystemAdminGrant = z.infer<typeof SystemAdminGrant>;

/**
 * A signing key's life: `pending` (published in the JWKS, not signing yet), `active` (signs),
 * `retired` (published, verifies what it signed), `revoked` (removed from the JWKS).
 */
export const SigningKeyStatus = z.enum(["pending", "active", "retired", "revoked"]);
export type SigningKeyStatus = z.infer<typeof SigningKeyStatus>;

/** A signing key as operators see it: never its private half. */
export const SigningKeyInfo = z.object({
  kid: z.string(),
  alg: z.string(),
  status: SigningKeyStatus,
  createdAt: IsoDateTime,
  /** When a pending key starts signing (null once it has, and for the first key). */
  activatesAt: IsoDateTime.nullable(),
  retiredAt: IsoDateTime.nullable(),
  revokedAt: IsoDateTime.nullable(),
});
export type SigningKeyInfo = z.infer<typeof SigningKeyInfo>;

export const SigningKeyList = z.object({ keys: z.array(SigningKeyInfo) });
export type SigningKeyList = z.infer<typeof SigningKeyList>;

/**
 * `galaxy keys rotate [--now]`: a new key, published at once and signing once every verifier
 * can have fetched it; `now` makes it sign at once (after a compromise, before a revoke).
 */
export const RotateSigningKeyRequest = z.object({ now: z.boolean().default(false) }).strict();
export type RotateSigningKeyRequest = z.infer<typeof RotateSigningKeyRequest>;

export const SigningKeyRotation = z.object({ key: SigningKeyInfo, previousKid: z.string().nullable() });
export type SigningKeyRotation = z.infer<typeof SigningKeyRotation>;

/** `galaxy keys revoke <kid>`. */
export const RevokeSigningKeyRequest = z.object({ kid: z.string().min(1).max(200) }).strict();
export type RevokeSigningKeyRequest = z.infer<typeof RevokeSigningKeyRequest>;

/** A system admin's access token traded for an operator claim on the system workspace (the gateway asks). */
export const OperatorClaimRequest = z.object({ accessToken: z.string().min(1).max(8192) }).strict();
export type OperatorClaimRequest = z.infer<typeof OperatorClaimRequest>;

/** `GET /api/admin/security-incidents`: newest first, across every workspace. */
export const SecurityIncidentsQuery = CursorPageQuery.extend({
  action: z.string().regex(/^security\.[a-z_.]+$/).max(200).optional(),
  workspaceId: WorkspaceId.optional(),
  since: IsoDateTime.optional(),
  until: IsoDateTime.optional(),
});
export type SecurityIncidentsQuery = z.infer<typeof SecurityIncidentsQuery>;

/** A security incident is the audit entry of a `security.*` event, in whichever workspace it was recorded. */
export const SecurityIncident = AuditEntry;
export type SecurityIncident = AuditEntry;

/** `user.system_admin_granted`, in the system workspace. */
export const SystemAdminGranted = z.object({ userId: Uuid, email: z.string() });
export type SystemAdminGranted = z.infer<typeof SystemAdminGranted>;

/** `signing_key.rotated`, in the system workspace: `kid` is published now and signs from `activatesAt`. */
export const SigningKeyRotated = z.object({ kid: z.string(), previousKid: z.string().nullable(), activatesAt: IsoDateTime });
export type SigningKeyRotated = z.infer<typeof SigningKeyRotated>;

/** `signing_key.revoked`, in the system workspace: every verifier drops its cached JWKS on it. */
export const SigningKeyRevoked = z.object({ kid: z.string() });
export type SigningKeyRevoked = z.infer<typeof SigningKeyRevoked>;
