import { errors as joseErrors, jwtVerify } from "jose";
import { CLAIM_AUDIENCE, CLAIM_ISSUER, CLAIM_TYP, UnavailableError, WorkspaceClaim, type Jwks } from "@galaxy/contracts";
import { JwksCache, type KeySet } from "./jwks-cache";

/** Why a claim was refused; stable strings that end up in dead letters and security events. */
export type ClaimFailure = "missing" | "malformed" | "bad_signature" | "expired" | "unknown_key" | "wrong_type";

export class ClaimError extends Error {
  constructor(readonly reason: ClaimFailure, message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = "ClaimError";
  }
}

export interface ClaimVerifierOptions {
  /** Where the current JWKS comes from (identity answers `svc.identity.jwks`). */
  loadJwks: () => Promise<Jwks>;
  /** How many verified claims to remember (by token), so a hot principal is verified once. */
  cacheSize?: number;
  /** Do not refetch the JWKS for an unknown key more often than this (default 1 s). */
  refetchIntervalMs?: number;
}

/**
 * Verifies workspace claims (`typ` gx-claim+jwt, EdDSA, identity's issuer and audience) against
 * identity's JWKS, refetching it when a new key appears, and remembers verified claims.
 */
export class ClaimVerifier {
  private readonly keys: JwksCache;
  private readonly cache = new Map<string, WorkspaceClaim>();

  constructor(private readonly options: ClaimVerifierOptions) {
    this.keys = new JwksCache(options.loadJwks, options.refetchIntervalMs);
  }

  /**
   * Verifies a claim. `checkExpiry` is true for requests and false for events: an event is a
   * fact that was authorized when it was produced (docs/bus.md, "Consumers").
   */
  async verify(token: string | undefined, options: { checkExpiry: boolean }): Promise<WorkspaceClaim> {
    if (!token) throw new ClaimError("missing", "no Gx-Claim header");
    let claim = this.cache.get(token);
    if (!claim) {
      claim = await this.verifySignature(token);
      this.remember(token, claim);
    }
    if (options.checkExpiry && claim.exp * 1000 <= Date.now()) throw new ClaimError("expired", "the workspace claim has expired");
    return claim;
  }

  /** Drops the cached JWKS and claims, e.g. after a key was revoked. */
  reset(): void {
    this.keys.reset();
    this.cache.clear();
  }

  private async verifySignature(token: string, retried = false): Promise<WorkspaceClaim> {
    let keySet: KeySet;
    try {
      keySet = retried ? await this.keys.refetch() : await this.keys.current();
    } catch (error) {
      // Identity did not answer: nothing is wrong with the claim, so retry, never dead-letter.
      throw new UnavailableError("cannot load identity's keys to verify the claim", { cause: error });
    }
    try {
      const { payload } = await jwtVerify(token, keySet, {
        algorithms: ["EdDSA"],
        issuer: CLAIM_ISSUER,
        audience: CLAIM_AUDIENCE,
        typ: CLAIM_TYP,
        // Expiry is decided by the caller: events keep their claim for as long as they are retained.
        currentDate: new Date(0),
      });
      const parsed = WorkspaceClaim.safeParse(payload);
      if (!parsed.success) throw new ClaimError("malformed", "the workspace claim's payload is malformed");
      return parsed.data;
    } catch (error) {
      if (error instanceof ClaimError) throw error;
      if (error instanceof joseErrors.JWKSNoMatchingKey) {
        if (!retried) return this.verifySignature(token, true);
        throw new ClaimError("unknown_key", "the claim is signed by a key identity does not publish", { cause: error });
      }
      if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === "typ") throw new ClaimError("wrong_type", "not a workspace claim", { cause: error });
      if (error instanceof joseErrors.JWSSignatureVerificationFailed) throw new ClaimError("bad_signature", "the claim's signature does not verify", { cause: error });
      if (error instanceof joseErrors.JOSEError) throw new ClaimError("malformed", `the claim was refused: ${error.code}`, { cause: error });
      throw error;
    }
  }

  private remember(token: string, claim: WorkspaceClaim): void {
    const max = this.options.cacheSize ?? 10_000;
    if (this.cache.size >= max) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    this.cache.set(token, claim);
  }
}

/** Caches claims per workspace until shortly before they expire. */
export class ClaimCache {
  private readonly entries = new Map<string, { claim: string; expiresAt: number }>();

  constructor(private readonly fetch: (workspaceId: string) => Promise<{ claim: string; expiresAt: number }>, private readonly marginMs = 60_000) {}

  async get(workspaceId: string): Promise<string> {
    const hit = this.entries.get(workspaceId);
    if (hit && hit.expiresAt * 1000 - this.marginMs > Date.now()) return hit.claim;
    const fresh = await this.fetch(workspaceId);
    this.entries.set(workspaceId, fresh);
    return fresh.claim;
  }
}
