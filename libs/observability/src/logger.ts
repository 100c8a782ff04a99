import { pino, type DestinationStream, type Logger } from "pino";
import { isSecretField, REDACTED, SECRET_FIELDS } from "@galaxy/contracts";
import { traceFields } from "./log-trace";

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
  /** Where the lines go instead of stdout (tests capture them); never pretty-printed. */
  destination?: DestinationStream | undefined;
}

/** The service's root logger: JSON lines, secrets redacted, the service named on every line. */
export function createLogger(options: LoggerOptions): Logger {
  const pretty = !options.destination && (options.pretty ?? process.env.LOG_FORMAT === "pretty");
  const pinoOptions = {
    name: options.service,
    level: options.level ?? process.env.LOG_LEVEL ?? "info",
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    formatters: { log: redactFields },
    base: { service: options.service },
    // Every line written inside a span names it (docs/operations.md, "Traces").
    mixin: () => traceFields(),
    ...(pretty
      ? { transport: { target: "pino-pretty", options: { colorize: true, singleLine: true, ignore: "pid,hostname,service,name", translateTime: "HH:MM:ss.l" } } }
      : {}),
  };
  return options.destination ? pino(pinoOptions, options.destination) : pino(pinoOptions);
}

/**
 * A child of `parent` with `bindings`, made on first use: a pino child serialises (and redacts)
 * its bindings when it is made, which a consumer's or responder's per-message child paid on
 * every message though most never write a line.
 */
export function lazyChild(parent: Logger, bindings: Record<string, unknown>): () => Logger {
  let child: Logger | undefined;
  return () => (child ??= parent.child(bindings));
}

/**
 * The logged object with every secret field replaced, in any case and at any depth of its plain
 * objects and arrays: pino's paths above match case-sensitively and only two levels down. Errors
 * and other class instances are left to pino's serializers and the paths.
 */
function redactFields(object: Record<string, unknown>): Record<string, unknown> {
  const ancestors = new Set<object>();
  const walk = (value: unknown): unknown => {
    if (value === null || typeof value !== "object") return value;
    if (ancestors.has(value)) return "[Circular]";
    const proto: unknown = Object.getPrototypeOf(value);
    if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) return value;
    ancestors.add(value);
    try {
      if (Array.isArray(value)) return value.map(walk);
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(value)) out[key] = isSecretField(key) ? REDACTED : walk(child);
      return out;
    } finally {
      ancestors.delete(value);
    }
  };
  ancestors.add(object);
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(object)) out[key] = isSecretField(key) ? REDACTED : walk(child);
  return out;
}
