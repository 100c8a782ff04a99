import { existsSync } from "node:fs";

/** Where the engines of a test run are. */
export interface Engines {
  databaseUrl: string;
  natsUrl: string;
  redisUrl: string;
  /** Stops what this run started (containers); nothing for servers that were already running. */
  stop: () => Promise<void>;
}

const DEFAULTS = {
  databaseUrl: "postgres://postgres@127.0.0.1:5432/galaxy",
  natsUrl: "nats://127.0.0.1:4222",
  redisUrl: "redis://127.0.0.1:6379",
};

/**
 * The engines tests run against: containers when a Docker engine answers (testcontainers),
 * else the servers named by `DATABASE_URL`, `NATS_URL` and `REDIS_URL` (running on every
 * development and CI machine of this project).
 */
export async function resolveEngines(): Promise<Engines> {
  const fromEnv: Engines = {
    databaseUrl: process.env.DATABASE_URL ?? DEFAULTS.databaseUrl,
    natsUrl: process.env.NATS_URL ?? DEFAULTS.natsUrl,
    redisUrl: process.env.REDIS_URL ?? DEFAULTS.redisUrl,
    stop: async () => {},
  };
  const explicit = process.env.DATABASE_URL || process.env.NATS_URL || process.env.REDIS_URL;
  if (explicit || process.env.GALAXY_TEST_CONTAINERS === "0" || !dockerSocketPresent()) return fromEnv;
  try {
    return await startContainers();
  } catch (error) {
    // testcontainers rejects within milliseconds when no container runtime answers.
    if (error instanceof Error && /container runtime/i.test(error.message)) return fromEnv;
    throw error;
  }
}

function dockerSocketPresent(): boolean {
  return existsSync("/var/run/docker.sock") || Boolean(process.env.DOCKER_HOST);
}

async function startContainers(): Promise<Engines> {
  const { GenericContainer, Wait } = await import("testcontainers");
  const [postgres, nats, redis] = await Promise.all([
    new GenericContainer("postgres:15")
      .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: "trust" })
      .withExposedPorts(5432)
      .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
      .start(),
    new GenericContainer("nats:2.9").withCommand(["-js"]).withExposedPorts(4222).withWaitStrategy(Wait.forLogMessage(/Server is ready/)).start(),
    new GenericContainer("redis:7").withExposedPorts(6379).start(),
  ]);
  return {
    databaseUrl: `postgres://postgres@${postgres.getHost()}:${postgres.getMappedPort(5432)}/galaxy`,
    natsUrl: `nats://${nats.getHost()}:${nats.getMappedPort(4222)}`,
    redisUrl: `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`,
    stop: async () => {
      await Promise.all([postgres.stop(), nats.stop(), redis.stop()]);
    },
  };
}
