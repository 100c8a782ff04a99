import type { Bus } from "@galaxy/bus";
import { GalaxyError, parseEventSubject, type Provider, type ResolvedCredential } from "@galaxy/contracts";

/** The subjects on which a workspace's credential changes; every instance drops its copy. */
export const CREDENTIAL_EVENTS = "evt.*.provider_credential.>";

/** How long a resolved credential (or its absence) is kept in memory, by default. */
export const DEFAULT_CREDENTIAL_TTL_MS = 60_000;
const MAX_ENTRIES = 10_000;

export interface CredentialResolverOptions {
  bus: Bus;
  /** How long a resolved credential, or the answer that there is none, is kept (default 60 s). */
  ttlMs?: number | undefined;
  now?: () => number;
}

interface Entry {
  value: ResolvedCredential | null;
  expiresAt: number;
}

/**
 * A workspace's provider keys for the model calls, asked of identity with the worker's service
 * claim (`identity.credentials.resolve`, which only this service's NATS user may make) and kept
 * in memory only, briefly: 60 s, or until a `provider_credential.*` event says it changed. The
 * keys are never logged, stored or put in an event.
 */
export class CredentialResolver {
  private readonly entries = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<ResolvedCredential | null>>();
  // Bumped on every invalidation, so an answer that was in flight across one is not kept.
  private generation = 0;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(private readonly options: CredentialResolverOptions) {
    this.ttlMs = options.ttlMs ?? DEFAULT_CREDENTIAL_TTL_MS;
    this.now = options.now ?? Date.now;
  }

  /** Drops cached credentials when a workspace's credentials change (call once, at start). */
  listen(): void {
    this.options.bus.subscribeCore(CREDENTIAL_EVENTS, (_data, subject) => {
      const parsed = parseEventSubject(subject);
      if (parsed) this.invalidate(parsed.workspaceId);
    });
  }

  /**
   * The workspace's credential for `provider`, or null when it has none (the caller falls back
   * to the environment's key). Throws when identity cannot answer: a model call must not
   * silently fall back to the platform's key for a workspace that set its own.
   */
  async get(workspaceId: string, provider: Provider): Promise<ResolvedCredential | null> {
    const key = `${workspaceId}:${provider}`;
    const hit = this.entries.get(key);
    if (hit && hit.expiresAt > this.now()) return hit.value;
    const inFlight = this.pending.get(key);
    if (inFlight) return inFlight;
    const generation = this.generation;
    const request = this.fetch(workspaceId, provider)
      .then((value) => {
        if (generation === this.generation) this.remember(key, value);
        return value;
      })
      .finally(() => this.pending.delete(key));
    this.pending.set(key, request);
    return request;
  }

  /** Forgets a workspace's credentials (all of them: an event names one, but this is cheap). */
  invalidate(workspaceId: string): void {
    this.generation += 1;
    for (const key of this.entries.keys()) if (key.startsWith(`${workspaceId}:`)) this.entries.delete(key);
  }

  private async fetch(workspaceId: string, provider: Provider): Promise<ResolvedCredential | null> {
    const { bus } = this.options;
    const claim = await bus.serviceClaims.get(workspaceId);
    try {
      return await bus.request("identity.credentials.resolve", { provider }, { claim, workspaceId });
    } catch (error) {
      if (error instanceof GalaxyError && error.status === 404) return null;
      throw error;
    }
  }

  private remember(key: string, value: ResolvedCredential | null): void {
    if (this.entries.size >= MAX_ENTRIES) {
      const now = this.now();
      for (const [k, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(k);
      if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    }
    this.entries.set(key, { value, expiresAt: this.now() + this.ttlMs });
  }
}
