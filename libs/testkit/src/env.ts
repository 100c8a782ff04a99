import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { dropStreams } from "@galaxy/bus";
import { cloneDatabase, dropDatabase } from "./database";

export const TEMPLATE_DATABASE = "galaxy_test_template";

/** What one test file runs against: its own database, bus prefix and Redis key prefix. */
export interface TestEnv {
  /** Bootstrap (superuser) URL of this file's own database, cloned from the migrated template. */
  databaseUrl: string;
  databaseName: string;
  natsUrl: string;
  redisUrl: string;
  /** `GALAXY_BUS_PREFIX` of this file: its own streams and subjects. */
  busPrefix: string;
  /** Prefix for every Redis key this file writes. */
  redisPrefix: string;
  /** A 32-byte master key (base64) for secrets at rest. */
  masterKey: string;
  /** Drops the database and the file's streams and Redis keys. */
  cleanup: () => Promise<void>;
}

export interface EngineUrls {
  databaseUrl: string;
  natsUrl: string;
  redisUrl: string;
  /** The migrated database to clone (default `galaxy_test_template`). */
  template?: string;
}

/** Gives a test file its own world on the shared engines. */
export async function createTestEnv(engines: EngineUrls): Promise<TestEnv> {
  const id = randomBytes(5).toString("hex");
  const db = await cloneDatabase(engines.databaseUrl, engines.template ?? TEMPLATE_DATABASE);
  const busPrefix = `t${id}`;
  const redisPrefix = `galaxy-test:${id}:`;
  return {
    databaseUrl: db.url,
    databaseName: db.name,
    natsUrl: engines.natsUrl,
    redisUrl: engines.redisUrl,
    busPrefix,
    redisPrefix,
    masterKey: randomBytes(32).toString("base64"),
    cleanup: async () => {
      await dropDatabase(engines.databaseUrl, db.name);
      await dropStreams(engines.natsUrl, busPrefix);
      await deleteRedisKeys(engines.redisUrl, redisPrefix);
    },
  };
}

/** Deletes every Redis key under `prefix` (a test's or a benchmark's own). */
export async function deleteRedisKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}
