import { z } from "zod";
import { Bus, busConnection } from "@galaxy/bus";
import { NatsEnv } from "@galaxy/contracts";
import { createLogger } from "@galaxy/observability";

/**
 * What the CLI reads from the environment: where NATS is and who to be there. In production
 * the server authenticates the CLI as the `galaxy-cli` user (`NATS_USER`, `NATS_PASSWORD`),
 * the only user allowed to make the operator requests (infra/nats/).
 */
export const CliEnv = z.object({
  // NATS_URL, NATS_USER, NATS_PASSWORD, NATS_TOKEN, NATS_CREDS_FILE, NATS_TLS_*, GALAXY_BUS_PREFIX (docs/bus.md).
  ...NatsEnv.shape,
  // Logs go to stderr and stay quiet unless asked: stdout is for answers (and `--json`).
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("silent"),
  /** How long to wait for a service's answer (ms). */
  GALAXY_CLI_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  /** `galaxy agents|executions|triggers list|show`: the gateway they read through, and the API key (or access token) they read with. */
  GALAXY_API_URL: z.string().url().default("http://127.0.0.1:8080"),
  GALAXY_API_KEY: z.string().min(1).optional(),
  /** `galaxy tiers set` only: the gateways' Redis, where the API rate limits read a copy of the tier. */
  REDIS_URL: z.string().min(1).default("redis://127.0.0.1:6379"),
  /** `galaxy migrate` only: the bootstrap database URL (each service then uses its own role). */
  DATABASE_URL: z.string().min(1).default("postgres://postgres@127.0.0.1:5432/galaxy"),
});
export type CliEnv = z.infer<typeof CliEnv>;

/** The NATS user and queue-group name the CLI connects as. */
export const CLI_SERVICE = "galaxy-cli";

/** Parses the environment; a bad variable is a usage error naming it. */
export function parseCliEnv(env: NodeJS.ProcessEnv): CliEnv {
  const result = CliEnv.safeParse(env);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => `${issue.path.join(".") || "(env)"}: ${issue.message}`);
  throw new CliUsageError(`invalid environment: ${lines.join("; ")}`);
}

/** Connects to the bus as the operator CLI. */
export async function connectCli(env: CliEnv): Promise<Bus> {
  try {
    return await Bus.connect({
      ...busConnection(env),
      service: CLI_SERVICE,
      logger: createLogger({ service: CLI_SERVICE, level: env.LOG_LEVEL, destination: process.stderr }),
      requestTimeoutMs: env.GALAXY_CLI_TIMEOUT_MS,
    });
  } catch (error) {
    throw new CliFailure(`cannot connect to NATS at ${env.NATS_URL}: ${error instanceof Error ? error.message : String(error)}`, "bus_unreachable", { cause: error });
  }
}

/** A failure the CLI reports and exits 1 with. */
export class CliFailure extends Error {
  constructor(message: string, readonly code: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = "CliFailure";
  }
}

/** Bad arguments or environment: exit 2. */
export class CliUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CliUsageError";
  }
}
