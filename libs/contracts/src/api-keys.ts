import { z } from "zod";
import { IsoDateTime, Uuid, WorkspaceId } from "./ids";
import { Role } from "./roles";

/** Every API key starts with this, so scanners and people recognise one (docs/api.md). */
export const API_KEY_PREFIX = "gxk_";

/** Whether a bearer credential is an API key rather than an access token. */
export function isApiKey(credential: string): boolean {
  return credential.startsWith(API_KEY_PREFIX);
}

/** `POST /api/api-keys`: a key for this workspace; its role may not exceed the creator's. */
export const CreateApiKeyBody = z
  .object({
    name: z.string().trim().min(1).max(200),
    role: Role,
    /** When the key stops working; never, when left out. Must be in the future. */
    expiresAt: IsoDateTime.optional(),
  })
  .strict();
export type CreateApiKeyBody = z.infer<typeof CreateApiKeyBody>;

/** An API key as lists show it: never the key itself, nor its hash. */
export const ApiKey = z.object({
  id: Uuid,
  name: z.string(),
  role: Role,
  /** `gxk_` and the key's next 8 characters: enough to recognise it, too little to use it. */
  prefix: z.string(),
  createdBy: Uuid,
  createdAt: IsoDateTime,
  expiresAt: IsoDateTime.nullable(),
  lastUsedAt: IsoDateTime.nullable(),
  revokedAt: IsoDateTime.nullable(),
});
export type ApiKey = z.infer<typeof ApiKey>;

/** The answer to a create: the only time `key` is ever shown. */
export const CreatedApiKey = z.object({
  id: Uuid,
  name: z.string(),
  role: Role,
  prefix: z.string(),
  key: z.string().startsWith(API_KEY_PREFIX),
  createdAt: IsoDateTime,
  expiresAt: IsoDateTime.nullable(),
});
export type CreatedApiKey = z.infer<typeof CreatedApiKey>;

/** `identity.api_keys.authenticate`: the gateway trading a presented key for a claim. */
export const AuthenticateApiKeyRequest = z.object({ key: z.string().min(1).max(512) }).strict();
export type AuthenticateApiKeyRequest = z.infer<typeof AuthenticateApiKeyRequest>;

/**
 * A claim for an API key (`act: "api_key"`, `sub` = the key's id) with the lower of the key's
 * role and its creator's current one; `expiresAt` (Unix seconds) is short and never past the
 * key's own expiry. `createdBy` lets the gateway drop it when its creator's membership changes.
 */
export const ApiKeyGrant = z.object({
  claim: z.string(),
  expiresAt: z.number().int(),
  workspaceId: WorkspaceId,
  apiKeyId: Uuid,
  createdBy: Uuid,
});
export type ApiKeyGrant = z.infer<typeof ApiKeyGrant>;
