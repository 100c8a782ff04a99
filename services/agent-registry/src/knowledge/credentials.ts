import type { Bus } from "@galaxy/bus";
import { GalaxyError, parseEventSubject, type CredentialProvider, type ResolvedCredential } from "@galaxy/contracts";

/** The subjects on which a workspace's credentials change; every instance drops its copy. */
export const CREDENTIAL_EVENTS = "evt.*.provider_credential.>";
const DEFAULT_TTL_MS = 60_000;
const MAX_ENTRIES = 10_000;

/** Where a workspace's own provider keys come from. */
export interface WorkspaceCredentials {
  /** The workspace's credential for a provider; null when it has none. Throws when that cannot be known. */
  get(workspaceId: string, provider: CredentialProvider): Promise<ResolvedCredential | null>;
}

interface Entry {
  value: ResolvedCredential | null;
  expiresAt: number;
}

/**
 * A workspace's OpenAI, Google and Pinecone keys for embedding and vector search, asked of identity
 * with the registry's service claim (`identity.credentials.resolve`) and kept in memory only,
 * for a minute or until a `provider_credential.*` event says they changed. Never logged,
 * stored or put in an event.
 */
export class BusCredentials implements WorkspaceCredentials {
  private readonly entries = new Map<string, Entry>();
  // Bumped on every invalidation, so an answer in flight across one is not kept.
  private generation = 0;

  constructor(
    private readonly bus: Bus,
    private readonly ttlMs = DEFAULT_TTL_MS,
  ) {}

  /** Drops cached credentials when a workspace changes them (call once, at start). */
  listen(): void {
    this.bus.subscribeCore(CREDENTIAL_EVENTS, (_data, subject) => {
      const parsed = parseEventSubject(subject);
      if (!parsed) return;
      this.generation += 1;
      for (const key of this.entries.keys()) if (key.startsWith(`${parsed.workspaceId}:`)) this.entries.delete(key);
    });
  }

  async get(workspaceId: string, provider: CredentialProvider): Promise<ResolvedCredential | null> {
    const key = `${workspaceId}:${provider}`;
    const hit = this.entries.get(key);
    if (hit && hit.expiresAt > Date.now()) return hit.value;
    const generation = this.generation;
    const value = await this.fetch(workspaceId, provider);
    if (generation === this.generation) {
      if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
      this.entries.set(key, { value, expiresAt: Date.now() + this.ttlMs });
    }
    return value;
  }

  private async fetch(workspaceId: string, provider: CredentialProvider): Promise<ResolvedCredential | null> {
    const claim = await this.bus.serviceClaims.get(workspaceId);
    try {
      return await this.bus.request("identity.credentials.resolve", { provider }, { claim, workspaceId });
    } catch (error) {
      if (error instanceof GalaxyError && error.status === 404) return null;
      throw error;
    }
  }
}
