import { z } from "zod";
import { WorkspaceId } from "./ids";
import { Permissions, Role } from "./roles";

export const CLAIM_TYP = "gx-claim+jwt";
export const ACCESS_TOKEN_TYP = "at+jwt";
export const CLAIM_ISSUER = "galaxy-identity";
export const ACCESS_TOKEN_AUDIENCE = "galaxy-api";
export const CLAIM_AUDIENCE = "galaxy-bus";

export const ClaimActor = z.enum(["user", "api_key", "service", "operator"]);
export type ClaimActor = z.infer<typeof ClaimActor>;

/** The payload of the signed workspace claim that travels in `Gx-Claim`. */
export const WorkspaceClaim = z.object({
  ws: WorkspaceId,
  sub: z.string().min(1),
  act: ClaimActor,
  role: Role,
  perms: Permissions.optional(),
  /**
   * For an API key's claim (`act: "api_key"`) only: the user who created the key. What the key
   * creates is owned by the key and by its creator (docs/api.md), so ownership checks accept
   * either. Absent on every other claim.
   */
  own: z.string().min(1).optional(),
  iat: z.number().int(),
  exp: z.number().int(),
  jti: z.string().min(1),
});
export type WorkspaceClaim = z.infer<typeof WorkspaceClaim>;

/** The payload of a Galaxy access token (`typ` at+jwt). */
export const AccessTokenPayload = z.object({
  iss: z.string(),
  aud: z.union([z.string(), z.array(z.string())]),
  sub: z.string().min(1),
  ws: WorkspaceId,
  role: Role,
  /**
   * Present (true) only when the user held the `system_admin` flag when the token was issued.
   * It only lets the gateway route the request to `/api/admin/*`; identity reads the flag again
   * before it issues the operator claim those routes act with.
   */
  sa: z.literal(true).optional(),
  iat: z.number().int(),
  exp: z.number().int(),
  jti: z.string().min(1),
});
export type AccessTokenPayload = z.infer<typeof AccessTokenPayload>;

/** One public key of identity's JWKS. */
export const PublicJwk = z
  .object({ kty: z.string(), kid: z.string(), alg: z.string().optional(), crv: z.string().optional(), x: z.string().optional(), y: z.string().optional(), use: z.string().optional() })
  .loose();
export type PublicJwk = z.infer<typeof PublicJwk>;

export const Jwks = z.object({ keys: z.array(PublicJwk) });
export type Jwks = z.infer<typeof Jwks>;
