import { createHash, randomBytes } from "node:crypto";
import {
  API_KEY_PREFIX, ForbiddenError, Permissions, ValidationError, authorize, isApiKey, pagination, principalOf, roleRank,
  type ApiKey, type ApiKeyGrant, type CreateApiKeyBody, type CreatedApiKey, type PageQuery, type ReplyData, type WorkspaceClaim, uuidv7,
} from "@galaxy/contracts";
import { appendEvent, inWorkspace, reportCrossWorkspaceAttempt, type Kysely, type OutboxRelay, type OutboxRow } from "@galaxy/db";
import type { RequestContext } from "@galaxy/bus";
import type { IdentityDb } from "../db";
import { ApiKeyNotFoundError, InvalidApiKeyError, TokenStaleError } from "../errors";
import type { SigningKeys } from "../keys/signing-keys";
import { findUserById } from "../users/users.repository";
import { findMember } from "../workspaces/workspaces.repository";
import { apiKeyAuthority } from "./api-key-authority";
import { apiKeyExistsElsewhere, findApiKey, findApiKeyByHash, insertApiKey, listApiKeys, revokeApiKey, toApiKey, touchApiKey } from "./api-keys.repository";

/**
 * How long an API key's claim lives. Short, so a gateway that missed an invalidation signal
 * still re-asks within minutes; never past the key's own expiry.
 */
export const API_KEY_CLAIM_TTL_S = 5 * 60;
/**
 * The least life a key's claim is issued with: a claim must outlive the request it is issued
 * for, or the service refuses it on arrival (`claim_expired`) while the key looks valid. A key
 * closer than that to its expiry (claims expire on whole seconds, never past the key) is
 * already `invalid_api_key`.
 */
export const API_KEY_CLAIM_MIN_LIFE_MS = 1_000;
/** 32 random bytes: 256 bits, 43 base64url characters after `gxk_`. */
const KEY_BYTES = 32;
/** Shown in lists: `gxk_` and 8 characters of the key. */
const PREFIX_LENGTH = API_KEY_PREFIX.length + 8;

export interface ApiKeysServiceDeps {
  db: Kysely<IdentityDb>;
  keys: SigningKeys;
  relay: OutboxRelay;
}

/** The SHA-256 (hex) of a whole key: what is stored and looked up, never the key itself. */
export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/** A new key: `gxk_` + 43 base64url characters. */
export function generateApiKey(): string {
  return `${API_KEY_PREFIX}${randomBytes(KEY_BYTES).toString("base64url")}`;
}

/** API keys: create (shown once), list, revoke, and trade a presented key for a claim. */
export class ApiKeysService {
  constructor(private readonly deps: ApiKeysServiceDeps) {}

  async create(body: CreateApiKeyBody, ctx: RequestContext): Promise<CreatedApiKey> {
    const { db, relay } = this.deps;
    const claim = requireClaim(ctx);
    requireManage(claim);
    const expiresAt = body.expiresAt === undefined ? null : new Date(body.expiresAt);
    if (expiresAt && expiresAt.getTime() <= Date.now()) throw new ValidationError("The key would already be expired", { "body.expiresAt": "must be in the future" });
    const key = generateApiKey();
    const events: OutboxRow[] = [];
    const row = await inWorkspace(db, claim.ws, async (tx) => {
      // The creator's role as it is now, not as the (up to a few seconds old) claim says.
      const creator = await findMember(tx, claim.ws, claim.sub);
      if (!creator) throw new TokenStaleError();
      if (roleRank(body.role) > roleRank(creator.role)) throw new ForbiddenError(`A key's role may not exceed yours (${creator.role})`, "api_key_role_too_high");
      const inserted = await insertApiKey(tx, {
        id: uuidv7(),
        workspace_id: claim.ws,
        name: body.name,
        role: body.role,
        prefix: key.slice(0, PREFIX_LENGTH),
        key_hash: hashApiKey(key),
        created_by: claim.sub,
        expires_at: expiresAt,
        revoked_at: null,
        last_used_at: null,
      });
      const info = toApiKey(inserted);
      events.push(
        await appendEvent(tx, {
          type: "api_key.created",
          workspaceId: claim.ws,
          actor: { type: "user", id: claim.sub },
          context: ctx.eventContext(),
          data: { keyInfo: { id: info.id, name: info.name, role: info.role, prefix: info.prefix, createdBy: info.createdBy, createdAt: info.createdAt, expiresAt: info.expiresAt } },
        }),
      );
      return info;
    });
    relay.publishNow(events);
    return { id: row.id, name: row.name, role: row.role, prefix: row.prefix, key, createdAt: row.createdAt, expiresAt: row.expiresAt };
  }

  async list(page: PageQuery, ctx: RequestContext): Promise<ReplyData<"identity.api_keys.list">> {
    const claim = requireClaim(ctx);
    requireManage(claim);
    const { rows, total } = await inWorkspace(this.deps.db, claim.ws, (tx) => listApiKeys(tx, claim.ws, page));
    return { items: rows.map(toApiKey), pagination: pagination(total, page) };
  }

  /**
   * Revokes a key of the caller's workspace; another workspace's key, or a revoked one, is a 404.
   * Another workspace's key is also reported as a `security.cross_workspace_attempt`.
   */
  async revoke(id: string, ctx: RequestContext): Promise<ApiKey> {
    const { db, relay } = this.deps;
    const claim = requireClaim(ctx);
    const events: OutboxRow[] = [];
    const revoked = await inWorkspace(db, claim.ws, async (tx) => {
      // A key of another workspace does not exist for the caller, whatever its role (docs/api.md).
      const current = await findApiKey(tx, claim.ws, id);
      if (!current) return null;
      if (current.revoked_at) throw new ApiKeyNotFoundError(id);
      requireManage(claim);
      const row = await revokeApiKey(tx, claim.ws, id);
      if (!row) throw new ApiKeyNotFoundError(id);
      events.push(
        await appendEvent(tx, {
          type: "api_key.revoked",
          workspaceId: claim.ws,
          actor: { type: "user", id: claim.sub },
          context: ctx.eventContext(),
          data: { apiKeyId: row.id, prefix: row.prefix },
        }),
      );
      return toApiKey(row);
    });
    if (!revoked) throw await this.notFound(claim, id, ctx);
    // Every gateway drops the key on this event (core NATS), within milliseconds of the commit.
    relay.publishNow(events);
    return revoked;
  }

  /**
   * The answer when the caller's workspace has no key with this id: always the same 404. When
   * the id is another workspace's key, the attempt is also recorded as a
   * `security.cross_workspace_attempt` in the caller's workspace, under the caller's claim (the
   * other workspace is told nothing). Every miss asks, so a foreign id and a random one cost
   * the same query; a report that cannot be written is logged, never answered.
   */
  private async notFound(claim: WorkspaceClaim, id: string, ctx: RequestContext): Promise<ApiKeyNotFoundError> {
    const { db, relay } = this.deps;
    await reportCrossWorkspaceAttempt({
      db, relay, claim, eventContext: () => ctx.eventContext(), targetType: "api_key", targetId: id, operation: "api_keys.revoke", logger: ctx.logger,
      existsElsewhere: () => apiKeyExistsElsewhere(db, id, claim.ws),
    });
    return new ApiKeyNotFoundError(id);
  }

  /**
   * Trades a presented key for a short claim acting with the lower of the key's role and its
   * creator's current one. Unknown, revoked or expired keys, and keys whose creator left the
   * workspace, are all the same 401 `invalid_api_key`.
   */
  async authenticate(key: string): Promise<ApiKeyGrant> {
    const { db, keys } = this.deps;
    if (!isApiKey(key)) throw new InvalidApiKeyError();
    const found = await findApiKeyByHash(db, hashApiKey(key));
    const nowMs = Date.now();
    if (!found || found.revokedAt || (found.expiresAt && found.expiresAt.getTime() <= nowMs)) throw new InvalidApiKeyError();
    const creator = await inWorkspace(db, found.workspaceId, async (tx) => {
      const member = await findMember(tx, found.workspaceId, found.createdBy);
      if (member) await touchApiKey(tx, found.id);
      return member;
    });
    if (!creator) throw new InvalidApiKeyError("The API key's creator is no longer a member of its workspace");
    if (!(await findUserById(db, found.createdBy))) throw new InvalidApiKeyError("The API key's creator's account was deleted");
    const perms = Permissions.safeParse(creator.permissions);
    const authority = apiKeyAuthority(found.role, { role: creator.role, perms: perms.success ? perms.data : undefined });
    const nowS = Math.floor(nowMs / 1000);
    const keyExpiry = found.expiresAt ? Math.floor(found.expiresAt.getTime() / 1000) : Number.POSITIVE_INFINITY;
    const expiresAt = Math.min(nowS + API_KEY_CLAIM_TTL_S, keyExpiry);
    if (expiresAt * 1000 - nowMs < API_KEY_CLAIM_MIN_LIFE_MS) throw new InvalidApiKeyError();
    const grant = await keys.signClaim({
      workspaceId: found.workspaceId,
      sub: found.id,
      act: "api_key",
      role: authority.role,
      ...(authority.perms ? { perms: authority.perms } : {}),
      own: found.createdBy,
      expiresAt,
    });
    return { claim: grant.claim, expiresAt: grant.expiresAt, workspaceId: found.workspaceId, apiKeyId: found.id, createdBy: found.createdBy };
  }
}

function requireClaim(ctx: RequestContext): WorkspaceClaim {
  if (!ctx.claim) throw new Error("the bus let a request without a claim through");
  return ctx.claim;
}

function requireManage(claim: WorkspaceClaim): void {
  if (!authorize(principalOf(claim), "api_keys.manage")) throw new ForbiddenError("Only admins and owners manage API keys, and API keys cannot");
}
