import type { Bus } from "@galaxy/bus";
import { isDbReachable, type Kysely } from "@galaxy/db";
import type { Logger } from "@galaxy/observability";
import { SecurityIncidentsService } from "./admin/security-incidents";
import { AuditLogService } from "./audit-log/audit-log.service";
import type { ChainVerification } from "./chain/chain";
import type { AuditDb } from "./db";

export interface AuditDeps {
  db: Kysely<AuditDb>;
  bus: Bus;
  logger: Logger;
  /** First wait of the bus's in-place retries of an event that failed on the database (default 500 ms, doubling). */
  retryBackoffMs?: number;
}

export interface AuditService {
  log: AuditLogService;
  /** Consumes `evt.>` into the chains and serves `audit.logs.list`. */
  start(): Promise<void>;
  /** Call after `bus.stopIntake()` (which ends any retry in progress) and before the bus and database close. */
  stop(): Promise<void>;
  readiness(): Promise<Record<string, boolean>>;
  /** Checks one workspace's chain end to end (the `GET /api/audit-logs/verify` answer). */
  verifyWorkspace(workspaceId: string): Promise<ChainVerification>;
}

/** The durable consumer every audit instance shares. */
export const AUDIT_CONSUMER = "audit";

/** Builds audit from its dependencies; `main.ts` runs it, tests build it too. */
export function createAudit(deps: AuditDeps): AuditService {
  const { db, bus, logger } = deps;
  const log = new AuditLogService({ db, logger });
  const incidents = new SecurityIncidentsService(db);

  return {
    log,
    async start() {
      bus.serve("audit.logs.list", (query, ctx) => log.list(requireClaim(ctx.claim), query));
      bus.serve("audit.security_incidents.list", (query, ctx) => incidents.list(requireClaim(ctx.claim), query));
      await bus.consume({
        durable: AUDIT_CONSUMER,
        filter: "evt.>",
        // A dead letter is a gap in an audit log until someone redrives it, so the bus
        // retries infrastructure failures (in place, keeping stream order) for about twenty
        // minutes first.
        maxDeliveries: 50,
        ...(deps.retryBackoffMs !== undefined ? { backoffMs: deps.retryBackoffMs } : {}),
        handler: async (message) => {
          await log.append(message);
        },
      });
    },
    async stop() {},
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
