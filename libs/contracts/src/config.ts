import { z } from "zod";

/** Empty is the same as unset (docker-compose passes unset variables as ""). */
const unsetIfEmpty = (value: unknown) => (value === "" ? undefined : value);
const optionalText = z.preprocess(unsetIfEmpty, z.string().min(1).optional());

/**
 * Where NATS is, who to be there and how the streams are kept: what the bus reads
 * (docs/bus.md, "Configuration"; `busConnection` of libs/bus checks the combinations).
 */
export const NatsEnv = z.object({
  NATS_URL: z.string().min(1).default("nats://127.0.0.1:4222"),
  NATS_USER: optionalText,
  NATS_PASSWORD: z.preprocess(unsetIfEmpty, z.string().optional()),
  NATS_TOKEN: optionalText,
  /** A NATS `.creds` file (user JWT and NKey seed), for servers run in operator mode. */
  NATS_CREDS_FILE: optionalText,
  NATS_TLS_CA_FILE: optionalText,
  NATS_TLS_CERT_FILE: optionalText,
  NATS_TLS_KEY_FILE: optionalText,
  GALAXY_BUS_PREFIX: z.string().regex(/^[a-zA-Z0-9_-]*$/, "letters, digits, - and _ only").default(""),
  /** Replicas of `EVENTS` and `DEAD_LETTERS` (1, or 3 or 5 on a cluster); provisioning never lowers them. */
  GALAXY_STREAM_REPLICAS: z.preprocess(unsetIfEmpty, z.coerce.number().int().min(1).max(5).default(1)),
  GALAXY_STREAM_STORAGE: z.preprocess(unsetIfEmpty, z.enum(["file", "memory"]).default("file")),
});
export type NatsEnv = z.infer<typeof NatsEnv>;

/** The environment every service reads (docs/operations.md). */
export const CommonEnv = z.object({
  DATABASE_URL: z.url().default("postgres://postgres@127.0.0.1:5432/galaxy"),
  ...NatsEnv.shape,
  REDIS_URL: z.string().min(1).default("redis://127.0.0.1:6379"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});
export type CommonEnv = z.infer<typeof CommonEnv>;

/** Parses the environment once at start, naming every bad variable. */
export function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => `  ${issue.path.join(".") || "(env)"}: ${issue.message}`);
  throw new Error(`invalid configuration:\n${lines.join("\n")}`);
}
