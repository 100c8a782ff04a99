import { createHash } from "node:crypto";
import type { FastifyRequest } from "fastify";
import type { Bus } from "@galaxy/bus";
import { AuthenticateApiKeyRequest, UnauthorizedError, isApiKey, parseEvent, type AccessTokenPayload } from "@galaxy/contracts";
import { AccessTokenVerifier } from "./access-tokens";
import { CredentialCache } from "./credential-cache";

/** Who is calling: a user's verified access token or an API key, and the claim that carries it onto the bus. */
export interface Principal {
  kind: "user" | "api_key";
  /** The user's id; for an API key, the key's id (what it creates is recorded as the key's). */
  userId: string;
  workspaceId: string;
  claim: string;
  /** The verified access token; absent for an API key. */
  token?: AccessTokenPayload | undefined;
  /** For an API key: the user who created it. */
  createdBy?: string | undefined;
}

/** How fresh a cached claim must be, whatever the bus said (a missed invalidation heals in this time). */
export const CLAIM_MAX_AGE_MS = 5_000;
// Renew a cached claim this long before it expires, so none expires in flight.
const CLAIM_MARGIN_MS = 30_000;
const MAX_CACHED_CLAIMS = 50_000;

interface CachedClaim {
  claim: string;
  expiresAt: number;
  workspaceId: string;
  /** The user the claim speaks for: the token's subject, or the key's creator. */
  userId: string;
  apiKeyId?: string;
}

const memberTag = (workspaceId: string, userId: string) => `member:${workspaceId}:${userId}`;
const apiKeyTag = (workspaceId: string, apiKeyId: string) => `api_key:${workspaceId}:${apiKeyId}`;
/** Every claim that speaks for a user, in any workspace (a deleted user loses them all). */
const userTag = (userId: string) => `user:${userId}`;
/** Every cached claim carries it, so a key revocation drops them all (and refuses answers fetched before it). */
const ANY_CLAIM_TAG = "signing_keys";

/**
 * Authenticates API requests. An access token is verified locally, then traded for the
 * workspace claim identity issues with the member's current role; an API key (`gxk_…`) is
 * traded with identity for a claim of the key. Both are cached per credential (at most
 * `CLAIM_MAX_AGE_MS`, and until shortly before the claim expires).
 *
 * Every instance drops what it cached within moments of a change (docs/api.md: within 1 s): it
 * listens on core NATS for `api_key.revoked`, `member.role_changed` and `member.removed` and
 * drops the claims of that key, or of that member and of every key the member created. The next
 * request then asks identity again, which answers with the new role, or 401.
 */
export class Authenticator {
  private readonly tokens: AccessTokenVerifier;
  private readonly claims = new CredentialCache<CachedClaim>({ maxAgeMs: CLAIM_MAX_AGE_MS, expiryMarginMs: CLAIM_MARGIN_MS, maxEntries: MAX_CACHED_CLAIMS });
  /** Each request's answer, so the rate limiter and the handler authenticate it once between them. */
  private readonly answered = new WeakMap<FastifyRequest, Promise<Principal>>();

  constructor(private readonly bus: Bus) {
    this.tokens = new AccessTokenVerifier(() => bus.request("identity.jwks", {}));
    // These arrive without their headers, so their claims are not verified: a forged one can
    // only make this instance ask identity again, never grant anything.
    for (const type of ["api_key.revoked", "member.role_changed", "member.removed", "user.deleted"]) bus.subscribeCore(`evt.*.${type}`, (data) => this.onEvent(data));
    // A revoked signing key: tokens it signed must fail, and claims it signed are refused by the
    // services, so both the JWKS and every cached claim go (the next request re-fetches them).
    bus.subscribeCore("evt.*.signing_key.revoked", () => this.forgetKeys());
    // While disconnected, revocations and role changes went by unseen: start afresh.
    bus.onReconnect(() => this.forgetKeys());
  }

  /**
   * The caller of `request`; asked again for the same request (the rate limiter asks first,
   * then the route), the same answer, without hashing and looking up its credential again.
   */
  authenticate(request: FastifyRequest): Promise<Principal> {
    let answer = this.answered.get(request);
    if (!answer) {
      answer = this.authenticateOnce(request);
      this.answered.set(request, answer);
    }
    return answer;
  }

  /**
   * The caller of `request` as things stand now, not the answer kept for the request: for a
   * response that checks access again as it goes (each page of the audit export), so that a
   * revoked key or a removed member stops it, and a claim renewed meanwhile is used.
   */
  authenticateNow(request: FastifyRequest): Promise<Principal> {
    return this.authenticateOnce(request);
  }

  private async authenticateOnce(request: FastifyRequest): Promise<Principal> {
    const header = request.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    const credential = match?.[1];
    if (!credential) throw new UnauthorizedError("Send an access token or API key as `Authorization: Bearer <token>`", "missing_credentials");
    const trace = { correlationId: request.id, traceparent: request.traceparent };
    if (isApiKey(credential)) {
      // A key no key could be (too long, say) is refused as an unknown one, without asking identity.
      if (!AuthenticateApiKeyRequest.safeParse({ key: credential }).success) throw new UnauthorizedError("The API key is invalid, revoked or expired", "invalid_api_key");
      // Keyed by the key's hash, so no key sits in memory longer than its request.
      const cacheKey = `gxk:${createHash("sha256").update(credential).digest("hex")}`;
      const grant = await this.claims.get(
        cacheKey,
        async () => {
          const g = await this.bus.request("identity.api_keys.authenticate", { key: credential }, trace);
          return { claim: g.claim, expiresAt: g.expiresAt, workspaceId: g.workspaceId, userId: g.createdBy, apiKeyId: g.apiKeyId };
        },
        tagsOf,
      );
      return { kind: "api_key", userId: grant.apiKeyId ?? grant.userId, workspaceId: grant.workspaceId, claim: grant.claim, createdBy: grant.userId };
    }
    const token = await this.tokens.verify(credential);
    const grant = await this.claims.get(
      `jti:${token.jti}`,
      async () => {
        const g = await this.bus.request("identity.claims.issue", { accessToken: credential }, trace);
        return { claim: g.claim, expiresAt: g.expiresAt, workspaceId: token.ws, userId: token.sub };
      },
      tagsOf,
    );
    return { kind: "user", userId: token.sub, workspaceId: token.ws, claim: grant.claim, token };
  }

  /** Drops the cached claims of an API key (the instance that revoked it need not wait for the event). */
  forgetApiKey(workspaceId: string, apiKeyId: string): void {
    this.claims.invalidate(apiKeyTag(workspaceId, apiKeyId));
  }

  /** Drops the cached claims of a member, and of every API key the member created. */
  forgetMember(workspaceId: string, userId: string): void {
    this.claims.invalidate(memberTag(workspaceId, userId));
  }

  /** Drops every cached claim of a user, in every workspace, and of the keys the user created (the user was deleted). */
  forgetUser(userId: string): void {
    this.claims.invalidate(userTag(userId));
  }

  /** Drops the JWKS and every cached claim, and the bus's verified claims (a signing key was revoked). */
  forgetKeys(): void {
    this.tokens.reset();
    this.claims.invalidate(ANY_CLAIM_TAG);
    this.bus.claims.reset();
  }

  private onEvent(data: unknown): void {
    const parsed = parseEvent(data);
    if (!parsed.ok) return;
    const event = parsed.event;
    switch (event.type) {
      case "api_key.revoked":
        this.forgetApiKey(event.workspaceId, event.data.apiKeyId);
        return;
      case "member.role_changed":
      case "member.removed":
        this.forgetMember(event.workspaceId, event.data.userId);
        return;
      case "user.deleted":
        this.forgetUser(event.data.userId);
        return;
      default:
        return;
    }
  }
}

function tagsOf(entry: CachedClaim): string[] {
  const tags = [ANY_CLAIM_TAG, memberTag(entry.workspaceId, entry.userId), userTag(entry.userId)];
  if (entry.apiKeyId) tags.push(apiKeyTag(entry.workspaceId, entry.apiKeyId));
  return tags;
}
