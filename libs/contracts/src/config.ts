import { z } from "zod";

/** The environment every service reads (CONTRACT §5). */
export const CommonEnv = z.object({
  DATABASE_URL: z.url().default("postgres://postgres@127.0.0.1:5432/galaxy"),
  NATS_URL: z.string().min(1).default("nats://127.0.0.1:4222"),
  NATS_USER: z.string().optional(),
  NATS_PASSWORD: z.string().optional(),
  REDIS_URL: z.string().min(1).default("redis://127.0.0.1:6379"),
  GALAXY_BUS_PREFIX: z.string().regex(/^[a-zA-Z0-9_-]*$/, "letters, digits, - and _ only").default(""),
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
