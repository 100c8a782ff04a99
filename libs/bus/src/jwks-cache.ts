import { createLocalJWKSet, type JSONWebKeySet } from "jose";
import type { Jwks } from "@galaxy/contracts";

export type KeySet = ReturnType<typeof createLocalJWKSet>;

/**
 * Identity's JWKS as a verifier holds it: loaded on first use, fetched again when a token
 * names a key it does not know (a rotation), at most once per `refetchIntervalMs`, and
 * dropped on a revocation. Both claim verification (every service) and access-token
 * verification (the gateway) go through one of these.
 */
export class JwksCache {
  private keySet: KeySet | undefined;
  private lastFetch = 0;
  private loading: Promise<void> | undefined;

  constructor(private readonly loadJwks: () => Promise<Jwks>, private readonly refetchIntervalMs = 1_000) {}

  /** The keys, loading them the first time. */
  async current(): Promise<KeySet> {
    if (!this.keySet) await this.load();
    if (!this.keySet) throw new Error("no JWKS available");
    return this.keySet;
  }

  /**
   * Fetches the keys again after an unknown key id. It waits out the minimum interval rather
   * than refusing, so a token signed by a key published a moment ago verifies; the wait bounds
   * how often identity is asked.
   */
  async refetch(): Promise<KeySet> {
    const wait = this.lastFetch + this.refetchIntervalMs - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    await this.load();
    return this.current();
  }

  /** Forgets the keys (one was revoked): the next verification fetches them again. */
  reset(): void {
    this.keySet = undefined;
  }

  private async load(): Promise<void> {
    this.loading ??= this.loadJwks()
      .then((jwks) => {
        // jose wants its own JWK type; the contract's PublicJwk is a looser superset of it.
        const set: JSONWebKeySet = { keys: jwks.keys.map((key) => ({ ...key })) };
        this.keySet = createLocalJWKSet(set);
        this.lastFetch = Date.now();
      })
      .finally(() => (this.loading = undefined));
    await this.loading;
  }
}
