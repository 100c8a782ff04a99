import type { TestEnv } from "./env";

/**
 * The environment a compiled Galaxy program needs to run on a test file's engines: its
 * database, NATS, Redis, bus prefix and master key, quiet logs, and `PATH`. `extra` adds to it
 * or overrides it (a port, a log format).
 */
export function programEnv(env: TestEnv, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    DATABASE_URL: env.databaseUrl,
    NATS_URL: env.natsUrl,
    REDIS_URL: env.redisUrl,
    GALAXY_BUS_PREFIX: env.busPrefix,
    GALAXY_MASTER_KEY: env.masterKey,
    LOG_LEVEL: "warn",
    ...extra,
  };
}
