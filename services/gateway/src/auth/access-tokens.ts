import { createHash } from "node:crypto";
import { errors as joseErrors, jwtVerify } from "jose";
import { JwksCache, type KeySet } from "@galaxy/bus";
import { ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_TYP, AccessTokenPayload, CLAIM_ISSUER, UnauthorizedError, UnavailableError, type Jwks } from "@galaxy/contracts";

/** How long a verified token is answered from memory before its signature is checked again. */
export const VERIFIED_TOKEN_MAX_AGE_MS = 30_000;
const MAX_VERIFIED_TOKENS = 10_000;

export interface AccessTokenVerifierOptions {
  maxAgeMs?: number;
  maxEntries?: number;
  now?: () => number;
}

interface Verified {
  payload: AccessTokenPayload;
  verifiedAt: number;
}

/**
 * Verifies Galaxy access tokens locally against identity's JWKS: EdDSA or ES256 (identity signs EdDSA), identity's
 * issuer, the API audience and `typ` at+jwt, so a workspace claim or a foreign token never
 * passes. An unknown key id makes it fetch the JWKS again (at most once a second, `JwksCache`).
 *
 * A token that verified is remembered by the SHA-256 of its exact text (docs/security.md,
 * "Tokens and claims"): the same string verifies the same way until it expires, so a hit
 * answers without checking the signature again. A hit is refused once the token has expired,
 * and entries are dropped with the JWKS (`reset`, a signing key was revoked) and after
 * `VERIFIED_TOKEN_MAX_AGE_MS` in any case.
 */
export class AccessTokenVerifier {
  private readonly keys: JwksCache;
  private readonly verified = new Map<string, Verified>();
  private readonly maxAgeMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  /** Counts resets, so a verification that began before one is answered but not remembered. */
  private generation = 0;

  constructor(loadJwks: () => Promise<Jwks>, options: AccessTokenVerifierOptions = {}) {
    this.keys = new JwksCache(loadJwks);
    this.maxAgeMs = options.maxAgeMs ?? VERIFIED_TOKEN_MAX_AGE_MS;
    this.maxEntries = options.maxEntries ?? MAX_VERIFIED_TOKENS;
    this.now = options.now ?? Date.now;
  }

  /** Forgets the JWKS and every verified token (a key was revoked): the next token makes it fetch the keys again. */
  reset(): void {
    this.keys.reset();
    this.verified.clear();
    this.generation += 1;
  }

  get size(): number {
    return this.verified.size;
  }

  async verify(token: string): Promise<AccessTokenPayload> {
    const key = createHash("sha256").update(token).digest("base64url");
    const now = this.now();
    const hit = this.verified.get(key);
    if (hit) {
      if (now - hit.verifiedAt < this.maxAgeMs && hit.payload.exp * 1000 > now) return hit.payload;
      this.verified.delete(key);
    }
    const generation = this.generation;
    const payload = await this.verifyOnce(token, false);
    if (generation === this.generation) this.remember(key, payload, now);
    return payload;
  }

  private remember(key: string, payload: AccessTokenPayload, now: number): void {
    if (this.verified.size >= this.maxEntries) {
      for (const [old, entry] of this.verified) if (now - entry.verifiedAt >= this.maxAgeMs || entry.payload.exp * 1000 <= now) this.verified.delete(old);
      // Still full: the oldest entry goes (a Map iterates in insertion order).
      const oldest = this.verified.keys().next();
      if (this.verified.size >= this.maxEntries && !oldest.done) this.verified.delete(oldest.value);
    }
    this.verified.set(key, { payload, verifiedAt: now });
  }

  private async verifyOnce(token: string, retried: boolean): Promise<AccessTokenPayload> {
    let keySet: KeySet;
    try {
      keySet = retried ? await this.keys.refetch() : await this.keys.current();
    } catch (error) {
      throw new UnavailableError("Cannot verify tokens right now: identity did not answer", { cause: error });
    }
    try {
      const { payload } = await jwtVerify(token, keySet, { algorithms: ["EdDSA", "ES256"], issuer: CLAIM_ISSUER, audience: ACCESS_TOKEN_AUDIENCE, typ: ACCESS_TOKEN_TYP });
      const parsed = AccessTokenPayload.safeParse(payload);
      if (!parsed.success) throw new UnauthorizedError("The access token is malformed", "invalid_token");
      return parsed.data;
    } catch (error) {
      if (error instanceof joseErrors.JWKSNoMatchingKey && !retried) return this.verifyOnce(token, true);
      if (error instanceof joseErrors.JWTExpired) throw new UnauthorizedError("The access token has expired", "token_expired");
      if (error instanceof joseErrors.JOSEError) throw new UnauthorizedError("The access token is invalid", "invalid_token");
      throw error;
    }
  }
}
