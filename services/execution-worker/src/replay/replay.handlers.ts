import type { Bus, EventMessage } from "@galaxy/bus";
import { requireReplayRunner as requireRunner, ValidationError } from "@galaxy/contracts";
import { inWorkspace, ReplayHolds, type Kysely } from "@galaxy/db";
import type { Logger } from "@galaxy/observability";
import { AGENT_PROJECTION_CONSUMER } from "../agents/agents.projection";
import type { ExecutionDb } from "../db";
import type { Intake } from "../executions/intake";
import { rerunExecutions } from "./rerun";

/**
 * The worker's side of operator replays and dead-letter redrives: its projection of agents and
 * their versions (`execution-worker.agent-versions`) is rebuilt through the same handler that
 * keeps it live, and a dead letter of any of its consumers goes back to that consumer.
 */
export class WorkerReplay {
  /** Live agent events of a workspace being rebuilt wait here; the projection's handler goes through it. */
  readonly holds: ReplayHolds<ExecutionDb>;

  constructor(private readonly deps: { db: Kysely<ExecutionDb>; bus: Bus; logger: Logger; intake: Intake }) {
    this.holds = new ReplayHolds(deps.db, AGENT_PROJECTION_CONSUMER);
  }

  /** Wraps the projection's handler so that a held workspace's live events wait. */
  liveHandler(apply: (message: EventMessage) => Promise<void>): (message: EventMessage) => Promise<void> {
    return async (message) => {
      await this.holds.live([message], async ([live]) => {
        if (live) await apply(live);
      });
    };
  }

  serve(): void {
    const { bus } = this.deps;
    bus.serve("execution.replay.apply", async (request, ctx) => {
      requireRunner(ctx.claim);
      requireProjection(request.consumer);
      // In order, under the consumer's retry policy: what can never be applied is a dead letter and
      // counted failed; a failure that passes is waited out, or stops the replay (docs/replay.md).
      const failed = await bus.deliverMany(request.consumer, request.messages, { replayId: request.replayId });
      return { applied: request.messages.length - failed.length, failed };
    });
    bus.serve("execution.replay.reset", async (request, ctx) => {
      requireRunner(ctx.claim);
      requireProjection(request.consumer);
      await this.holds.hold(request.workspaceId, request.replayId);
      let dropped: number;
      try {
        dropped = await this.dropWorkspace(request.workspaceId);
      } catch (error) {
        // Nothing was dropped (one transaction): what waited goes through and the hold ends, as audit expects of a refused reset.
        await this.holds.release(request.workspaceId, (raw) => bus.deliver(request.consumer, raw, { replayId: request.replayId }));
        throw error;
      }
      this.deps.logger.info({ workspaceId: request.workspaceId, replayId: request.replayId, dropped }, "agent projection of the workspace dropped for a rebuild");
      return { dropped };
    });
    bus.serve("execution.replay.release", async (request, ctx) => {
      requireRunner(ctx.claim);
      requireProjection(request.consumer);
      const applied = await this.holds.release(request.workspaceId, (raw) => bus.deliver(request.consumer, raw, { replayId: request.replayId }));
      return { applied };
    });
    bus.serve("execution.rerun", (request, ctx) => rerunExecutions(this.deps, request, ctx));
    bus.serve("execution.dlq.redrive", async (request, ctx) => {
      requireRunner(ctx.claim);
      try {
        await bus.deliver(request.consumer, request.message);
        return { outcome: "applied" as const, error: null };
      } catch (error) {
        return { outcome: "failed" as const, error: error instanceof Error ? error.message : String(error) };
      }
    });
  }

  /** Drops the workspace's agents and versions; executions keep the version numbers they pinned. */
  private async dropWorkspace(workspaceId: string): Promise<number> {
    return inWorkspace(this.deps.db, workspaceId, async (tx) => {
      const versions = await tx.deleteFrom("agent_versions").where("workspace_id", "=", workspaceId).executeTakeFirst();
      const agents = await tx.deleteFrom("agents").where("workspace_id", "=", workspaceId).executeTakeFirst();
      return Number(versions.numDeletedRows) + Number(agents.numDeletedRows);
    });
  }
}

function requireProjection(consumer: string): void {
  if (consumer !== AGENT_PROJECTION_CONSUMER) throw new ValidationError(`the worker keeps no projection through ${consumer}`, { consumer: "not a projection of this service" }, "unknown_projection");
}
