import type { Bus } from "@galaxy/bus";
import { PROJECTIONS, type WorkspaceClaim } from "@galaxy/contracts";
import { inWorkspace, ReplayHolds, type Kysely, type OutboxRelay } from "@galaxy/db";
import type { Logger } from "@galaxy/observability";
import { readCheckpoint } from "../audit-log/audit-log.repository";
import type { AuditLogService } from "../audit-log/audit-log.service";
import type { AuditDb } from "../db";
import { DeadLettersService } from "../dead-letters/dead-letters.service";
import { ReplayService } from "./replay.service";
import { AuditLogTarget, RemoteTarget } from "./targets";

export interface OperatorSide {
  /** Live events of a workspace whose audit log is being rebuilt wait here (the consumer's handler goes through it). */
  holds: ReplayHolds<AuditDb>;
  replays: ReplayService;
  deadLetters: DeadLettersService;
  /** Serves the replay and dead-letter requests and fails replays an instance that stopped left running. */
  start(): Promise<void>;
  /** Stops running replays; call after `bus.stopIntake()` and before the outbox relay stops. */
  stop(): Promise<void>;
}

/**
 * Audit's operator side (docs/replay.md): it runs and records replays, and keeps the dead-letter
 * index. The `audit` consumer's own dead letters and replays are applied here, in-process;
 * another service's go through its `svc.<service>.replay.*` and `dlq.redrive` requests.
 */
export function createOperatorSide(deps: { db: Kysely<AuditDb>; bus: Bus; logger: Logger; log: AuditLogService; relay: OutboxRelay }): OperatorSide {
  const { db, bus, logger, log, relay } = deps;
  const consumer = PROJECTIONS.audit.consumer;
  const holds = new ReplayHolds(db, consumer);
  const replays = new ReplayService({
    db,
    bus,
    relay,
    logger: logger.child({ component: "replay" }),
    targets: {
      audit: new AuditLogTarget({
        bus,
        holds,
        dropWorkspace: (workspaceId) => log.resetWorkspace(workspaceId),
        pruned: async (workspaceId) => (await inWorkspace(db, workspaceId, (tx) => readCheckpoint(tx, workspaceId))).seq > 0,
        hashAhead: (messages) => log.hashAhead(messages),
      }),
      "execution-worker.agent-versions": new RemoteTarget("execution-worker.agent-versions", bus),
    },
  });
  const deadLetters = new DeadLettersService({ db, bus, relay, logger: logger.child({ component: "dead-letters" }), localConsumers: [consumer] });

  return {
    holds,
    replays,
    deadLetters,
    async start() {
      bus.serve("audit.replays.start", (body, ctx) => replays.start(claimOf(ctx.claim), body, ctx));
      bus.serve("audit.replays.get", (body, ctx) => replays.get(claimOf(ctx.claim), body.id));
      bus.serve("audit.replays.list", (query, ctx) => replays.list(claimOf(ctx.claim), query));
      bus.serve("audit.replays.cancel", (body, ctx) => replays.cancel(claimOf(ctx.claim), body.id));
      bus.serve("audit.dead_letters.list", (query, ctx) => deadLetters.list(claimOf(ctx.claim), query));
      bus.serve("audit.dead_letters.get", (body, ctx) => deadLetters.get(claimOf(ctx.claim), body.id));
      bus.serve("audit.dead_letters.redrive", (body, ctx) => deadLetters.redrive(claimOf(ctx.claim), body.id, ctx));
      bus.serve("audit.dead_letters.redrive_many", (body, ctx) => deadLetters.redriveMany(claimOf(ctx.claim), body, ctx));
      await replays.failOrphans();
    },
    async stop() {
      await replays.stop();
    },
  };
}

function claimOf(claim: WorkspaceClaim | null): WorkspaceClaim {
  if (!claim) throw new Error("the bus let a request without a claim through");
  return claim;
}
