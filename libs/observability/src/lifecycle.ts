import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { startOpsServer } from "./ops-server";
import { stopTelemetry } from "./telemetry";

export interface RunningService {
  /** Each dependency's reachability, for `/health/ready`. */
  readiness(): Promise<Record<string, boolean>>;
  /** Stops taking work, finishes in-flight work, closes connections. */
  stop(): Promise<void>;
}

export interface RunOptions {
  service: string;
  logger: Logger;
  metrics: Registry;
  /** Port of `/health/*` and `/metrics`; null when the service serves them itself (gateway). */
  opsPort: number | null;
  /** Longest a graceful stop may take before the process exits anyway (default 15 s). */
  shutdownTimeoutMs?: number;
  start(): Promise<RunningService>;
}

/**
 * Runs a service process: starts it, serves health and metrics, and on SIGTERM or SIGINT
 * stops it gracefully (in-flight work finishes, NATS drains) before exiting.
 */
export async function runService(options: RunOptions): Promise<void> {
  const { logger } = options;
  process.on("unhandledRejection", (reason) => logger.error({ err: reason }, "unhandled promise rejection"));
  let running: RunningService;
  try {
    running = await options.start();
  } catch (error) {
    logger.fatal({ err: error }, `${options.service} could not start`);
    process.exit(1);
  }
  const ops = options.opsPort === null ? null : await startOpsServer({ port: options.opsPort, host: process.env.OPS_HOST ?? "127.0.0.1", metrics: options.metrics, readiness: () => running.readiness() });
  logger.info({ opsPort: ops?.port }, `${options.service} started`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, `${options.service} stopping`);
    const timer = setTimeout(() => {
      logger.error("graceful stop timed out; exiting");
      process.exit(1);
    }, options.shutdownTimeoutMs ?? 15_000);
    timer.unref();
    try {
      await running.stop();
      await ops?.close();
      await stopTelemetry();
      logger.info(`${options.service} stopped`);
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, "error while stopping");
      process.exit(1);
    }
  };
  // `on`, not `once`: under `make up` a signal to the process group reaches us and the runner's
  // own SIGTERM follows; a repeat must be ignored, not fall through to Node's default exit.
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}
