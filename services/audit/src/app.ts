import type { Bus, EventMessage } from "@galaxy/bus";
import { isDbReachable, OutboxRelay, type Kysely } from "@galaxy/db";
import type { Logger } from "@galaxy/observability";
import { SecurityIncidentsService } from "./admin/security-incidents";
import { AuditLogService } from "./audit-log/audit-log.service";
import { IngestLock } from "./audit-log/ingest-lock";
import type { ChainVerification } from "./chain/chain";
import type { AuditDb } from "./db";
import { createOperatorSide, type OperatorSide } from "./replay/replay.handlers";
import { RetentionService } from "./retention/retention.service";

export interface AuditDeps {
  db: Kysely<AuditDb>;
  bus: Bus;
  logger: Logger;
  /** First wait of the bus's in-place retries of an event that failed on the database (the bus's default, 250 ms, doubling). */
  retryBackoffMs?: number;
  /** `AUDIT_EXPORT_DIR`: where retention writes the entries it removes (default `var/audit-exports`). */
  exportDir?: string;
  /** The clock retention measures ages with (tests move it). */
  now?: () => Date;
  /** How often a standby instance tries to take the consumer lock (default 5 s; `ingest-lock.ts`). */
  ingestLockRetryMs?: number;
}

export interface AuditService {
  log: AuditLogService;
  /** The `audit` consumer's batch handler (benchmarks run it with other batch sizes). */
  applyBatch(messages: EventMessage[]): Promise<void>;
  /** Which instance consumes `evt.>`: the one holding the consumer lock. */
  ingest: IngestLock;
  /** Replays and dead letters (docs/replay.md). */
  operator: OperatorSide;
  /** Consumes `evt.>` into the chains (in batches) and serves `audit.logs.{list,verify,export_page}`, `audit.retention.apply` and the operator requests. */
  start(): Promise<void>;
  /** Call after `bus.stopIntake()` (which ends any retry in progress) and before the bus and database close. */
  stop(): Promise<void>;
  readiness(): Promise<Record<string, boolean>>;
  /** Checks one workspace's chain end to end (the `GET /api/audit-logs/verify` answer). */
  verifyWorkspace(workspaceId: string): Promise<ChainVerification>;
}

/** The durable consumer of audit: one instance at a time consumes it (the consumer lock, `ingest-lock.ts`). */
export const AUDIT_CONSUMER = "audit";

/** Most events the consumer applies in one go. */
export const AUDIT_BATCH = 256;

/**
 * How long a batch that is not full waits for more events: the events of one execution (its
 * start, then its end a model call later) and of the executions right after it reach the
 * stream within this time, and waiting for them makes them one statement instead of one each
 * (decision 0018). Audit is off every request's path; its entries appear this much later
 * (docs/audit-chain.md, "Ingest").
 */
export const AUDIT_LINGER_MS = 100;

/** Builds audit from its dependencies; `main.ts` runs it, tests build it too. */
export function createAudit(deps: AuditDeps): AuditService {
  const { db, bus, logger } = deps;
  const log = new AuditLogService({ db, logger });
  const incidents = new SecurityIncidentsService(db);
  // Publishes audit's own events (retention runs, operator records) right after they commit.
  const relay = new OutboxRelay({ db, publish: (row) => bus.publishEvent(row), logger, metrics: bus.registry });
  const retention = new RetentionService({
    db,
    log,
    logger,
    exportDir: deps.exportDir ?? "var/audit-exports",
    publishNow: (rows) => relay.publishNow(rows),
    ...(deps.now ? { now: deps.now } : {}),
  });
  const operator = createOperatorSide({ db, bus, logger, log, relay });
  // One statement per batch, replay holds checked in it; the events of a held workspace are
  // kept aside by the holds (rare: only while a reset replay rebuilds that workspace).
  const applyBatch = async (messages: EventMessage[]) => {
    const { held } = await log.applyLive(messages);
    if (held.length > 0) await operator.holds.live(held, (live) => log.applyEvents(live));
  };
  // One instance consumes at a time, so entries take their seq in stream order.
  const ingest = new IngestLock({
    db,
    logger,
    ...(deps.ingestLockRetryMs !== undefined ? { retryMs: deps.ingestLockRetryMs } : {}),
    // Many events per transaction (what is waiting, up to AUDIT_BATCH), acked after the
    // commit; a batch that fails is applied again one event at a time, so a bad event
    // costs only itself (docs/audit-chain.md, "Ingest").
    consume: () =>
      bus.consumeBatch({
        durable: AUDIT_CONSUMER,
        filter: "evt.>",
        maxBatch: AUDIT_BATCH,
        lingerMs: AUDIT_LINGER_MS,
        // A dead letter is a gap in an audit log until someone redrives it: the bus waits out
        // an engine outage for as long as it lasts, in place, keeping stream order
        // (docs/bus.md, "Retry policy").
        ...(deps.retryBackoffMs !== undefined ? { backoffMs: deps.retryBackoffMs } : {}),
        // While a replay rebuilds a workspace's log, its live events wait (replay/, docs/replay.md).
        handler: (messages) => applyBatch(messages),
      }),
  });

  return {
    log,
    applyBatch,
    ingest,
    operator,
    async start() {
      bus.serve("audit.logs.list", (query, ctx) => log.list(requireClaim(ctx.claim), query));
      bus.serve("audit.security_incidents.list", (query, ctx) => incidents.list(requireClaim(ctx.claim), query));
      bus.serve("audit.logs.verify", (request, ctx) => log.verify(requireClaim(ctx.claim), request));
      bus.serve("audit.logs.export_page", (request, ctx) => log.exportPage(requireClaim(ctx.claim), request));
      bus.serve("audit.retention.apply", (request, ctx) => retention.apply(requireClaim(ctx.claim), request, ctx.eventContext()));
      relay.start();
      await operator.start();
      ingest.start();
    },
    async stop() {
      await ingest.stop();
      await operator.stop();
      await relay.stop();
    },
    async readiness() {
      return { database: await isDbReachable(db), bus: bus.isConnected() };
    },
    verifyWorkspace: (workspaceId) => log.verifyWorkspace(workspaceId),
  };
}

function requireClaim<T>(claim: T | null): T {
  if (!claim) throw new Error("the bus let a request without a claim through");
  return claim;
}
