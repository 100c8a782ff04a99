import { Bus, busConnection, type ClaimVerifierLoader, type ServiceClaimIssuer } from "@galaxy/bus";
import type { CommonEnv } from "@galaxy/contracts";
import { createServiceDb, type Kysely, type ServiceName } from "@galaxy/db";
import { createLogger, createMetrics, runService, startTelemetry, type Logger, type Registry } from "@galaxy/observability";

/** What a service's `create…()` gets. */
export interface BusServiceDeps<DB> {
  db: Kysely<DB>;
  bus: Bus;
  logger: Logger;
  metrics: Registry;
}

/** What a service's `create…()` returns. */
export interface BuiltService {
  start(): Promise<void>;
  stop(): Promise<void>;
  readiness(): Promise<Record<string, boolean>>;
}

export interface BusServiceOptions<DB> {
  service: ServiceName;
  env: CommonEnv;
  /** Port of `/health/*` and `/metrics`. */
  opsPort: number;
  /** Size of the database pool (default 10). */
  dbPoolSize?: number;
  /** Longest a graceful stop may take before the process exits anyway (default 15 s, see `runService`). */
  shutdownTimeoutMs?: number;
  /** Extra bus options (identity verifies claims with its own keys). */
  bus?: { loadJwks?: ClaimVerifierLoader; issueServiceClaim?: ServiceClaimIssuer };
  build(deps: BusServiceDeps<DB>): BuiltService;
}

/**
 * Runs a service that lives on the bus: connects its database role and NATS, builds and
 * starts it, serves health and metrics, and stops it in the order that loses nothing:
 * stop taking requests and events, let the service finish what it holds (and flush its
 * outbox), drain NATS, close the pool.
 */
export async function runBusService<DB>(options: BusServiceOptions<DB>): Promise<void> {
  const { env, service } = options;
  await startTelemetry(service);
  const logger = createLogger({ service, level: env.LOG_LEVEL });
  const metrics = createMetrics(service);
  await runService({
    service,
    logger,
    metrics,
    opsPort: options.opsPort,
    ...(options.shutdownTimeoutMs !== undefined ? { shutdownTimeoutMs: options.shutdownTimeoutMs } : {}),
    async start() {
      const db = createServiceDb<DB>(env.DATABASE_URL, service, {
        ...(options.dbPoolSize !== undefined ? { max: options.dbPoolSize } : {}),
        onIdleError: (error) => logger.warn({ err: error }, "an idle database connection failed"),
      });
      const bus = await Bus.connect({ ...busConnection(env), service, logger, metrics, ...options.bus });
      const built = options.build({ db, bus, logger, metrics });
      await built.start();
      // Ready means reachable: the server has every request handler before we say so.
      await bus.flush();
      return {
        readiness: () => built.readiness(),
        async stop() {
          await bus.stopIntake();
          await built.stop();
          await bus.close();
          await db.destroy();
        },
      };
    },
  });
}
