import type { FastifyBaseLogger } from "fastify";
import type { Logger } from "@galaxy/observability";

type Bindings = Parameters<FastifyBaseLogger["child"]>[0];
type ChildLoggerOptions = NonNullable<Parameters<FastifyBaseLogger["child"]>[1]>;
type Method = "fatal" | "error" | "warn" | "info" | "debug" | "trace";

/**
 * A request's logger that becomes a pino child (with the request id bound) only when the request
 * writes a line at an enabled level. Fastify makes a child per request, and a pino child
 * serialises and redacts its bindings when it is made: about 3 % of the gateway's CPU per
 * request in profiles of the read path and of signed deliveries, where most requests write
 * nothing (docs/operations.md, `LOG_LEVEL`).
 */
export class RequestLogger implements FastifyBaseLogger {
  private made: FastifyBaseLogger | undefined;

  constructor(
    /** The logger Fastify hands its factory: its serializers (`req`, `res`, `err`) apply to the child. */
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
    /** Pino's levels by name, to tell whether a line would be written before a child is made. */
    private readonly levels: Readonly<Record<string, number>>,
  ) {}

  get level(): string {
    return this.made?.level ?? this.options.level ?? this.parent.level;
  }

  set level(level: string) {
    this.logger().level = level;
  }

  fatal(...args: Parameters<FastifyBaseLogger["fatal"]>): void {
    this.write("fatal", args);
  }

  error(...args: Parameters<FastifyBaseLogger["error"]>): void {
    this.write("error", args);
  }

  warn(...args: Parameters<FastifyBaseLogger["warn"]>): void {
    this.write("warn", args);
  }

  info(...args: Parameters<FastifyBaseLogger["info"]>): void {
    this.write("info", args);
  }

  debug(...args: Parameters<FastifyBaseLogger["debug"]>): void {
    this.write("debug", args);
  }

  trace(...args: Parameters<FastifyBaseLogger["trace"]>): void {
    this.write("trace", args);
  }

  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.logger().child(bindings, options);
  }

  private write(method: Method, args: Parameters<FastifyBaseLogger[Method]>): void {
    if (!this.enabled(method)) return;
    const logger = this.logger();
    logger[method].apply(logger, args);
  }

  private enabled(method: Method): boolean {
    return (this.levels[method] ?? 0) >= (this.levels[this.level] ?? Infinity);
  }

  private logger(): FastifyBaseLogger {
    return (this.made ??= this.parent.child(this.bindings, this.options));
  }
}

/**
 * Fastify's `childLoggerFactory`: a {@link RequestLogger} per request, made a child of the logger
 * Fastify passes (the gateway's, with Fastify's serializers, so a request is logged as its
 * method, URL and address, never its headers), with the levels of `root`.
 */
export function requestLoggers(root: Logger) {
  const levels = root.levels.values;
  return (logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger => new RequestLogger(logger, bindings, options, levels);
}
