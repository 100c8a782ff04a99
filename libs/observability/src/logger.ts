import { pino, type Logger } from "pino";
import { SECRET_FIELDS } from "@galaxy/contracts";

export type { Logger };

/** pino redaction paths for every secret field, at the top level and one or two levels down. */
export const REDACT_PATHS: string[] = SECRET_FIELDS.flatMap((field) => [field, `*.${field}`, `*.*.${field}`]).concat([
  'req.headers.authorization',
  'req.headers["webhook-signature"]',
  'headers["Gx-Claim"]',
]);

export interface LoggerOptions {
  service: string;
  level?: string | undefined;
  /** Human-readable output (`make up`); JSON otherwise. */
  pretty?: boolean | undefined;
}

/** The service's root logger: JSON lines, secrets redacted, the service named on every line. */
export function createLogger(options: LoggerOptions): Logger {
  return pino({
    name: options.service,
    level: options.level ?? process.env.LOG_LEVEL ?? "info",
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    base: { service: options.service },
    ...(options.pretty ?? process.env.LOG_FORMAT === "pretty"
      ? { transport: { target: "pino-pretty", options: { colorize: true, ignore: "pid,hostname,service,name", translateTime: "HH:MM:ss.l" } } }
      : {}),
  });
}
