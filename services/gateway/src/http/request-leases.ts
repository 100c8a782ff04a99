import type { Redis, Result } from "ioredis";
import { z } from "zod";
import { withTimeout } from "@galaxy/bus";

import { RATE_TIERS_KEY } from "@galaxy/contracts";

export { RATE_TIERS_KEY };

/** How long one script may take before its requests fail, answered 503 rather than held. */
const REDIS_TIMEOUT_MS = 1_000;
/** The most counts one lease takes beyond the requests waiting for it. */
const MAX_AHEAD = 32;
/** A lease takes at most this share of what the narrower limit has left. */
const SHARE_OF_WHAT_IS_LEFT = 1 / 8;
/** Counts of a lease not handed out within this time are given back, so a tier changed in Redis applies soon. */
const LEASE_MS = 1_000;
/** A credential whose lease was used up within this time takes twice as many counts ahead in the next; else none. */
const BUSY_MS = 100;
/** Credentials whose leases are remembered at most; past it the one remembered longest is let go (its counts given back). */
const MAX_CREDENTIALS = 10_000;

/**
 * Gives back ARGV[4] counts a lease of this credential did not hand out (to a counter that still
 * exists), then raises the workspace's and the credential's counters of the current window by
 * ARGV[3]; answers the
 * workspace's tier and both counters after it. A counter without an expiry is given its
 * window's. KEYS: the tiers hash, the workspace's counter, the credential's. ARGV: the window
 * in seconds, the workspace id, the counts, the counts given back.
 */
const LEASE_COUNTS = `
local function raise(key)
  if redis.call('EXISTS', key) == 1 then redis.call('DECRBY', key, ARGV[4]) end
  local counted = redis.call('INCRBY', key, ARGV[3])
  if redis.call('TTL', key) < 0 then redis.call('EXPIRE', key, ARGV[1]) end
  return counted
end
local tier = redis.call('HGET', KEYS[1], ARGV[2])
return {tier or '', raise(KEYS[2]), raise(KEYS[3])}`;

/** Gives back ARGV[1] counts to each of the counters KEYS that still exists. */
const GIVE_BACK = `
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('DECRBY', key, ARGV[1]) end
end
return 0`;

// The scripts as commands of the connection: ioredis sends each by its SHA, and its text when Redis has not seen it yet.
declare module "ioredis" {
  interface RedisCommander<Context> {
    galaxyLeaseCounts(tiersKey: string, workspaceKey: string, credentialKey: string, windowS: string, workspaceId: string, size: string, unused: string): Result<unknown, Context>;
    galaxyGiveBackCounts(workspaceKey: string, credentialKey: string, unused: string): Result<unknown, Context>;
  }
}

const Leased = z.tuple([z.string(), z.number().int(), z.number().int()]);

/** One request to count: its workspace and credential, and the fixed window it falls in. */
export interface CountedRequest {
  workspaceId: string;
  /** `<principal kind>:<user or key id>`. */
  credential: string;
  window: number;
}

/** Where a request stands: the workspace's tier (empty when it has none) and both counts with this request. */
export interface RequestCount {
  tier: string;
  workspace: number;
  credential: number;
}

/** What the counts of a tier allow, to size leases by: requests per window, per workspace and per credential. */
export type LimitsOfTier = (tier: string) => { workspace: number; credential: number };

export function workspaceCounterKey(request: CountedRequest): string {
  return `ratelimit:ws:${request.workspaceId}:${request.window}`;
}

function credentialCounterKey(request: CountedRequest): string {
  return `ratelimit:cred:${request.workspaceId}:${request.credential}:${request.window}`;
}

interface Waiting {
  resolve: (count: RequestCount) => void;
  reject: (error: unknown) => void;
}

/** One credential's counts in one window: the lease it holds, and the requests waiting for the next. */
class CredentialCounts {
  tier = "";
  /** The counters' values after the last lease, its size and how many of its counts were handed out. */
  workspaceEnd = 0;
  credentialEnd = 0;
  size = 0;
  used = 0;
  /** When the last lease was granted (`performance.now()`), and its timer that gives back what it did not hand out. */
  grantedAt = -Infinity;
  expiry: NodeJS.Timeout | undefined;
  /** Counts the next lease takes beyond the requests waiting for it. */
  ahead = 0;
  waiting: Waiting[] = [];
  leasing = false;

  constructor(readonly request: CountedRequest) {}

  /** The next count of the lease, when it has one left. */
  take(now = performance.now()): RequestCount | undefined {
    if (this.used >= this.size || now - this.grantedAt > LEASE_MS) return undefined;
    const offset = this.size - this.used;
    this.used += 1;
    return { tier: this.tier, workspace: this.workspaceEnd - offset + 1, credential: this.credentialEnd - offset + 1 };
  }

  /** Ends the lease: answers how many of its counts were not handed out, which the caller gives back. */
  end(): number {
    clearTimeout(this.expiry);
    this.expiry = undefined;
    const unused = this.size - this.used;
    this.used = this.size;
    return unused;
  }
}

/**
 * Counts `/api/*` requests in Redis, shared by every gateway, in leases: a credential's request
 * takes the next of the counts its gateway has already raised the counters by, and only when
 * none is left does the gateway raise them again, by the requests waiting and, while the
 * credential uses each lease up within 100 ms, some counts ahead (doubling from one lease to
 * the next up to 32, never more than an eighth of what the narrower limit has left). A request
 * gets the count it would have got alone. A credential that sends less often, or nears its
 * limit, is counted in Redis request by request. Counts not handed out within a second are
 * given back; until then they count as used, for the credential and its workspace, on every
 * gateway. A tier changed in Redis applies from the next lease (docs/decisions/0036).
 */
export class RequestLeases {
  private readonly credentials = new Map<string, CredentialCounts>();

  constructor(
    private readonly redis: Redis,
    private readonly windowS: number,
    private readonly limitsOf: LimitsOfTier,
  ) {
    redis.defineCommand("galaxyLeaseCounts", { numberOfKeys: 3, lua: LEASE_COUNTS });
    redis.defineCommand("galaxyGiveBackCounts", { numberOfKeys: 2, lua: GIVE_BACK });
  }

  count(request: CountedRequest): Promise<RequestCount> {
    const key = `${request.workspaceId}\n${request.credential}`;
    let counts = this.credentials.get(key);
    if (!counts || counts.request.window !== request.window) {
      if (counts) void this.giveBack(counts);
      counts = new CredentialCounts(request);
      this.remember(key, counts);
    }
    const taken = counts.take();
    if (taken) return Promise.resolve(taken);
    const credentialCounts = counts;
    return new Promise((resolve, reject) => {
      credentialCounts.waiting.push({ resolve, reject });
      if (credentialCounts.leasing) return;
      credentialCounts.leasing = true;
      // Leased once the code that is running has made its requests: those made together wait for one lease.
      queueMicrotask(() => void this.lease(credentialCounts));
    });
  }

  private remember(key: string, counts: CredentialCounts): void {
    this.credentials.delete(key);
    this.credentials.set(key, counts);
    if (this.credentials.size <= MAX_CREDENTIALS) return;
    const [oldestKey, oldest] = this.credentials.entries().next().value ?? [];
    if (oldestKey === undefined || !oldest) return;
    this.credentials.delete(oldestKey);
    void this.giveBack(oldest);
  }

  /** Raises the counters for every request waiting (and some ahead), then hands the counts out; repeats while requests wait. */
  private async lease(counts: CredentialCounts): Promise<void> {
    try {
      for (;;) {
        // Requests that came while the last lease was on its way take what it has left first.
        while (counts.waiting.length > 0) {
          const taken = counts.take();
          if (!taken) break;
          counts.waiting.shift()?.resolve(taken);
        }
        if (counts.waiting.length === 0) return;
        const waiting = counts.waiting;
        counts.waiting = [];
        try {
          await this.leaseFor(counts, waiting);
        } catch (error) {
          for (const request of waiting) request.reject(error);
        }
      }
    } finally {
      counts.leasing = false;
    }
  }

  /** One lease: counts for the `waiting` requests, handed to them at once, and some ahead; the last lease's unused counts given back in the same script. */
  private async leaseFor(counts: CredentialCounts, waiting: Waiting[]): Promise<void> {
    // A credential that used its last lease up quickly takes more ahead; one that did not, none.
    counts.ahead = performance.now() - counts.grantedAt <= BUSY_MS ? Math.min(MAX_AHEAD, Math.max(1, counts.ahead * 2)) : 0;
    const size = waiting.length + this.countsAhead(counts);
    // Given back with this lease. Should the script fail, whether Redis applied it is unknown: they stay counted, the safe side.
    const unused = counts.end();
    this.requireReady();
    const { request } = counts;
    const leased = await withTimeout(
      this.redis.galaxyLeaseCounts(RATE_TIERS_KEY, workspaceCounterKey(request), credentialCounterKey(request), String(this.windowS), request.workspaceId, String(size), String(unused)),
      REDIS_TIMEOUT_MS,
      `Redis did not answer within ${REDIS_TIMEOUT_MS} ms`,
    );
    const [tier, workspaceEnd, credentialEnd] = Leased.parse(leased);
    Object.assign(counts, { tier, workspaceEnd, credentialEnd, size, used: 0, grantedAt: performance.now() });
    for (const request of waiting) request.resolve(counts.take() ?? failedLease());
    if (size > waiting.length) counts.expiry = setTimeout(() => void this.giveBack(counts), LEASE_MS).unref();
  }

  /** How many counts to take beyond the requests waiting, as the limits the credential last saw allow. */
  private countsAhead(counts: CredentialCounts): number {
    if (counts.ahead === 0) return 0;
    const limits = this.limitsOf(counts.tier);
    const left = Math.min(limits.workspace - counts.workspaceEnd, limits.credential - counts.credentialEnd);
    return Math.max(0, Math.min(counts.ahead, Math.floor(left * SHARE_OF_WHAT_IS_LEFT)));
  }

  /** Gives back every count the gateway holds, as it stops (Redis still connected): a deploy leaves none counted. */
  async close(): Promise<void> {
    const givenBack = [...this.credentials.values()].map((counts) => this.giveBack(counts));
    this.credentials.clear();
    await withTimeout(Promise.all(givenBack), REDIS_TIMEOUT_MS, "counts not given back").catch(() => undefined);
  }

  /** Ends the credential's lease and gives back what it did not hand out. Best effort: counts not given back stay counted until the window ends. */
  private async giveBack(counts: CredentialCounts): Promise<void> {
    const unused = counts.end();
    if (unused <= 0) return;
    if (this.redis.status !== "ready") return;
    await this.redis.galaxyGiveBackCounts(workspaceCounterKey(counts.request), credentialCounterKey(counts.request), String(unused)).catch(() => undefined);
  }

  /** Without a connection the count fails at once (answered 503), rather than waiting in the client's queue. */
  private requireReady(): void {
    if (this.redis.status !== "ready") throw new Error(`Redis is ${this.redis.status}`);
  }
}

function failedLease(): never {
  throw new Error("a lease had fewer counts than requests waiting for it");
}
