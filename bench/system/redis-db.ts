import { Redis } from "ioredis";

/** A Redis logical database this run has to itself, and how to empty it again. */
export interface BenchRedisDb {
  /** `redis://…/<n>`: every Galaxy service and the BullMQ baseline use it. */
  url: string;
  index: number;
  /** Deletes every key of the database (it was empty when the run took it). */
  release(): Promise<void>;
}

const CLAIM_KEY = "galaxy-bench:claimed-by";

/**
 * Galaxy's gateway keeps its Redis keys (rate-limit windows, the rate tiers hash) without a
 * prefix, so a benchmark of the system as `make up` runs it gets a logical database of its
 * own: the first of 15 … 1 that is empty, claimed with a key no other run can set beside it.
 */
export async function claimRedisDb(redisUrl: string, runId: string): Promise<BenchRedisDb> {
  const base = new URL(redisUrl);
  for (let index = 15; index >= 1; index--) {
    base.pathname = `/${index}`;
    const url = base.toString();
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      if ((await redis.dbsize()) !== 0) continue;
      if ((await redis.set(CLAIM_KEY, runId, "NX")) !== "OK") continue;
      return { url, index, release: () => emptyDb(url, runId) };
    } finally {
      redis.disconnect();
    }
  }
  throw new Error("no empty Redis database among 1 … 15 for the benchmark");
}

async function emptyDb(url: string, runId: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    // Only the run that claimed it empties it.
    if ((await redis.get(CLAIM_KEY)) !== runId) return;
    await redis.flushdb();
  } finally {
    redis.disconnect();
  }
}
