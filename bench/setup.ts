import { randomBytes } from "node:crypto";
import { dropStreams } from "@galaxy/bus";
import { withUser } from "@galaxy/db";
import { createDatabase, deleteRedisKeys, dropDatabase } from "@galaxy/testkit";
import { provisionDatabase } from "../scripts/provision";

/** What one `make bench` run works in: engines on loopback, and names no other run uses. */
export interface BenchWorld {
  databaseUrl: string;
  natsUrl: string;
  redisUrl: string;
  /** `galaxy_bench_<id>`: migrated once; Galaxy runs in a clone of it, the baselines in it. */
  database: string;
  /** Superuser URL of `database`. */
  databaseUrlOfBench: string;
  /** Subject prefix of the baselines' stream and requests (Galaxy's own prefix comes from the harness). */
  busPrefix: string;
  /** Redis key prefix of the BullMQ baseline. */
  redisPrefix: string;
  /** Drops the database, the baselines' streams and Redis keys. Safe to call twice. */
  teardown(): Promise<void>;
}

const DEFAULTS = {
  databaseUrl: "postgres://postgres@127.0.0.1:5432/galaxy",
  natsUrl: "nats://127.0.0.1:4222",
  redisUrl: "redis://127.0.0.1:6379",
};

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

/** Benchmarks send traffic to this machine alone: refuse an engine anywhere else. */
function loopbackOnly(name: string, url: string): string {
  const host = new URL(url).hostname;
  if (!LOOPBACK.has(host)) throw new Error(`${name} points at ${host}; benchmarks run against engines on 127.0.0.1 only`);
  return url;
}

/** Creates and migrates `galaxy_bench_<id>` (as test/global-setup.ts does for tests). */
export async function createBenchWorld(log: (line: string) => void): Promise<BenchWorld> {
  const databaseUrl = loopbackOnly("DATABASE_URL", process.env.DATABASE_URL ?? DEFAULTS.databaseUrl);
  const natsUrl = loopbackOnly("NATS_URL", process.env.NATS_URL ?? DEFAULTS.natsUrl);
  const redisUrl = loopbackOnly("REDIS_URL", process.env.REDIS_URL ?? DEFAULTS.redisUrl);
  const id = randomBytes(4).toString("hex");
  const database = `galaxy_bench_${id}`;
  const databaseUrlOfBench = withUser(databaseUrl, new URL(databaseUrl).username || "postgres", database);
  const busPrefix = `bench${id}`;
  const redisPrefix = `galaxy-bench:${id}`;
  let done = false;
  const teardown = async () => {
    if (done) return;
    done = true;
    const steps: Array<[string, () => Promise<void>]> = [
      [`drop database ${database}`, () => dropDatabase(databaseUrl, database)],
      [`drop streams of ${busPrefix}`, () => dropStreams(natsUrl, busPrefix)],
      [`delete Redis keys ${redisPrefix}:*`, () => deleteRedisKeys(redisUrl, `${redisPrefix}:`)],
    ];
    for (const [what, step] of steps) {
      try {
        await step();
      } catch (error) {
        log(`cleanup: could not ${what}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  };
  await createDatabase(databaseUrl, database);
  try {
    await provisionDatabase(databaseUrlOfBench);
  } catch (error) {
    await teardown();
    throw error;
  }
  return { databaseUrl, natsUrl, redisUrl, database, databaseUrlOfBench, busPrefix, redisPrefix, teardown };
}
