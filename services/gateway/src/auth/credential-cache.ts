/** A cached answer about a credential: a claim and when it expires (Unix seconds). */
export interface Expiring {
  expiresAt: number;
}

export interface CredentialCacheOptions {
  /**
   * Entries older than this are fetched again even when nobody said they changed: the
   * fallback for an invalidation signal this instance missed (a reconnect, a dropped message).
   */
  maxAgeMs: number;
  /** An entry is renewed this long before its claim expires, so none expires in flight. */
  expiryMarginMs: number;
  maxEntries: number;
  now?: () => number;
}

interface Entry<V> {
  value: V;
  tags: readonly string[];
  fetchedAt: number;
}

// How long an invalidation is remembered, to refuse answers fetched before it: longer than
// any request may take.
const INVALIDATION_MEMORY_MS = 60_000;

/**
 * Claims cached per credential and dropped by tag: each entry is tagged with the principals it
 * speaks for (`member:<ws>:<user>`, `api_key:<ws>:<id>`), and `invalidate(tag)` drops every entry
 * so tagged. Concurrent misses for one credential share one fetch. An answer fetched before an
 * invalidation of one of its tags is handed to the request that asked but never cached, and
 * later requests do not join such a fetch, so nothing cached outlives the change it missed.
 */
export class CredentialCache<V extends Expiring> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly byTag = new Map<string, Set<string>>();
  private readonly pending = new Map<string, { promise: Promise<V>; startedSeq: number }>();
  private readonly invalidations = new Map<string, { seq: number; at: number }>();
  private seq = 0;
  private readonly now: () => number;

  constructor(private readonly options: CredentialCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The cached value for `key`, or what `load` fetches (then cached under `tagsOf(value)`). */
  async get(key: string, load: () => Promise<V>, tagsOf: (value: V) => readonly string[]): Promise<V> {
    const now = this.now();
    const hit = this.entries.get(key);
    if (hit) {
      if (this.usable(hit, now)) return hit.value;
      this.delete(key);
    }
    const inFlight = this.pending.get(key);
    if (inFlight && inFlight.startedSeq === this.seq) return inFlight.promise;
    const startedSeq = this.seq;
    const settle = () => {
      if (this.pending.get(key)?.promise === promise) this.pending.delete(key);
    };
    const promise = load().then(
      (value) => {
        settle();
        const tags = tagsOf(value);
        if (!this.invalidatedSince(tags, startedSeq)) this.set(key, value, tags);
        return value;
      },
      (error: unknown) => {
        settle();
        throw error;
      },
    );
    this.pending.set(key, { promise, startedSeq });
    return promise;
  }

  /** Drops every entry tagged `tag`, and refuses to cache answers fetched before now. */
  invalidate(tag: string): number {
    const now = this.now();
    this.seq += 1;
    for (const [old, mark] of this.invalidations) if (now - mark.at > INVALIDATION_MEMORY_MS) this.invalidations.delete(old);
    this.invalidations.set(tag, { seq: this.seq, at: now });
    const keys = [...(this.byTag.get(tag) ?? [])];
    for (const key of keys) this.delete(key);
    return keys.length;
  }

  get size(): number {
    return this.entries.size;
  }

  private usable(entry: Entry<V>, now: number): boolean {
    return now - entry.fetchedAt < this.options.maxAgeMs && entry.value.expiresAt * 1000 - this.options.expiryMarginMs > now;
  }

  private invalidatedSince(tags: readonly string[], seq: number): boolean {
    return tags.some((tag) => (this.invalidations.get(tag)?.seq ?? 0) > seq);
  }

  private set(key: string, value: V, tags: readonly string[]): void {
    if (this.entries.size >= this.options.maxEntries) this.evict();
    this.delete(key);
    this.entries.set(key, { value, tags, fetchedAt: this.now() });
    for (const tag of tags) {
      let keys = this.byTag.get(tag);
      if (!keys) this.byTag.set(tag, (keys = new Set()));
      keys.add(key);
    }
  }

  private delete(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    for (const tag of entry.tags) {
      const keys = this.byTag.get(tag);
      keys?.delete(key);
      if (keys?.size === 0) this.byTag.delete(tag);
    }
  }

  private evict(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) if (!this.usable(entry, now)) this.delete(key);
    if (this.entries.size >= this.options.maxEntries) {
      this.entries.clear();
      this.byTag.clear();
    }
  }
}
