import type { Bus, RequestContext } from "@galaxy/bus";
import { ForbiddenError, GalaxyError, SYSTEM_WORKSPACE_ID, type RerunExecutionsRequest, type RerunExecutionsResult, type WorkspaceClaim } from "@galaxy/contracts";
import { inWorkspace, sql, type Kysely } from "@galaxy/db";
import type { Logger } from "@galaxy/observability";
import type { ExecutionDb } from "../db";
import { fetchAgent } from "../agents/registry-agent";
import type { Intake } from "../executions/intake";
import { WORKER_ACTOR } from "../executions/step-log";

/**
 * `execution.rerun` (`galaxy executions rerun`): an operator's bulk re-run of one agent's failed
 * executions as new ones, `trigger: {type: "replay", id: <original>}`, started with the worker's
 * own service claim of the agent's workspace (as a schedule tick would be). An execution that was
 * re-run already is not re-run again.
 */
export async function rerunExecutions(
  deps: { db: Kysely<ExecutionDb>; bus: Bus; intake: Intake; logger: Logger },
  request: RerunExecutionsRequest,
  ctx: RequestContext,
): Promise<RerunExecutionsResult> {
  requireOperator(ctx.claim);
  const { db, bus, intake } = deps;
  const found = await sql<{ ws: string | null }>`select agent_workspace(${request.agentId}::uuid) as ws`.execute(db);
  const workspaceId = found.rows[0]?.ws ?? null;
  const empty = { workspaceId, matched: 0, alreadyRerun: 0, started: [], failed: [], dryRun: request.dryRun };
  if (workspaceId === null) return empty;

  const { originals, alreadyRerun } = await inWorkspace(db, workspaceId, async (tx) => {
    let query = tx
      .selectFrom("executions")
      .select(["id", "input"])
      .where("agent_id", "=", request.agentId)
      .where("status", "=", request.status)
      .where("created_at", ">=", new Date(request.since));
    if (request.until) query = query.where("created_at", "<", new Date(request.until));
    const rows = await query.orderBy("created_at").orderBy("id").limit(request.limit).execute();
    const ids = rows.map((r) => r.id);
    const rerun = ids.length === 0
      ? new Set<string>()
      : new Set(
          (await tx.selectFrom("executions").select(sql<string>`trigger->>'id'`.as("original")).where(sql<boolean>`trigger->>'type' = 'replay'`).where(sql<boolean>`trigger->>'id' = any(${ids}::text[])`).execute()).map((r) => r.original),
        );
    return { originals: rows.filter((r) => !rerun.has(r.id)), alreadyRerun: rerun.size };
  });
  if (request.dryRun || originals.length === 0) return { ...empty, matched: originals.length, alreadyRerun };

  const claim = await bus.serviceClaims.get(workspaceId);
  const context = { claim, traceparent: ctx.traceparent, correlationId: ctx.correlationId, causationId: ctx.correlationId };
  const askRegistry = () => fetchAgent(bus, request.agentId, { claim, workspaceId, traceparent: ctx.traceparent, correlationId: ctx.correlationId });
  const started: RerunExecutionsResult["started"] = [];
  const failed: RerunExecutionsResult["failed"] = [];
  for (const original of originals) {
    try {
      const execution = await intake.start({
        workspaceId, agentId: request.agentId, input: original.input, trigger: { type: "replay", id: original.id }, principal: null, actor: WORKER_ACTOR, context, askRegistry,
      });
      started.push({ originalId: original.id, executionId: execution.id });
    } catch (error) {
      if (!(error instanceof GalaxyError)) throw error;
      failed.push({ originalId: original.id, code: error.code, message: error.message });
    }
  }
  deps.logger.info({ agentId: request.agentId, workspaceId, started: started.length, failed: failed.length }, "executions re-run by an operator");
  return { workspaceId, matched: originals.length, alreadyRerun, started, failed, dryRun: false };
}

function requireOperator(claim: WorkspaceClaim | null): void {
  if (!claim || claim.act !== "operator" || claim.ws !== SYSTEM_WORKSPACE_ID) {
    throw new ForbiddenError("Only system admins and the operator CLI may re-run executions across workspaces", "system_admin_required");
  }
}
