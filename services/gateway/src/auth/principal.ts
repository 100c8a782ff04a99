import type { FastifyRequest } from "fastify";
import type { Bus } from "@galaxy/bus";
import { UnauthorizedError, type AccessTokenPayload } from "@galaxy/contracts";
import { AccessTokenVerifier } from "./access-tokens";

/** Who is calling: the verified token and the workspace claim that carries it onto the bus. */
export interface Principal {
  userId: string;
  workspaceId: string;
  claim: string;
  token: AccessTokenPayload;
}

// Renew a cached claim this long before it expires, so none expires in flight.
const CLAIM_MARGIN_MS = 30_000;
const MAX_CACHED_CLAIMS = 50_000;

/**
 * Authenticates API requests: verifies the bearer token locally, then gets (and caches, per
 * token) the workspace claim identity issues for it with the member's current role.
 */
export class Authenticator {
  private readonly tokens: AccessTokenVerifier;
  private readonly claims = new Map<string, { claim: string; expiresAt: number }>();

  constructor(private readonly bus: Bus) {
    this.tokens = new AccessTokenVerifier(() => bus.request("identity.jwks", {}));
  }

  async authenticate(request: FastifyRequest): Promise<Principal> {
    const header = request.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    const credential = match?.[1];
    if (!credential) throw new UnauthorizedError("Send an access token as `Authorization: Bearer <token>`", "missing_credentials");
    if (credential.startsWith("gxk_")) throw new UnauthorizedError("API keys are not accepted yet", "invalid_api_key");
    const token = await this.tokens.verify(credential);
    const claim = await this.claimFor(credential, token, request);
    return { userId: token.sub, workspaceId: token.ws, claim, token };
  }

  private async claimFor(credential: string, token: AccessTokenPayload, request: FastifyRequest): Promise<string> {
    const cached = this.claims.get(token.jti);
    if (cached && cached.expiresAt * 1000 - CLAIM_MARGIN_MS > Date.now()) return cached.claim;
    const grant = await this.bus.request("identity.claims.issue", { accessToken: credential }, { correlationId: request.id, traceparent: request.traceparent });
    if (this.claims.size >= MAX_CACHED_CLAIMS) this.evictExpired();
    this.claims.set(token.jti, grant);
    return grant.claim;
  }

  private evictExpired(): void {
    const now = Date.now();
    for (const [jti, entry] of this.claims) if (entry.expiresAt * 1000 <= now) this.claims.delete(jti);
    if (this.claims.size >= MAX_CACHED_CLAIMS) this.claims.clear();
  }
}
