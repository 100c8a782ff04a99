import type { Bus, RequestContext } from "@galaxy/bus";
import {
  authorize, ForbiddenError, principalOf, GalaxyError, TERMINAL_STATUSES, type Agent, type CancelSignal, type Execution,
  type ExecutionEventsReply, type ExecutionEventsRequest, type ExecutionStatusesReply, type ExecutionStatusesRequest, type ListExecutionsRequest, type ReplyData, type StartExecutionRequest, type WorkspaceClaim,
} from "@galaxy/contracts";
import { inWorkspace, reportCrossWorkspaceAttempt, type Kysely, type OutboxRelay } from "@galaxy/db";
import { findAgentVersion, findPinnableAgent } from "../agents/agents.repository";
import { fetchAgent } from "../agents/registry-agent";
import { scheduleFirstAttempt } from "../callbacks/callbacks.repository";
import type { CallbackOrders } from "../callbacks/callback-orders";
import type { ExecutionDb } from "../db";
import { AgentNotFoundError, ExecutionNotFoundError, ExecutionTerminalError } from "../errors";
import { listExecutionEvents, recordExecutionEvent } from "./events";
import { agentExistsElsewhere, cancelQueued, executionExistsElsewhere, findExecution, findExecutionAlone, findExecutionForUpdate, requestCancel, toExecution } from "./executions.repository";
import { listExecutionsPage } from "./list";
import type { Intake } from "./intake";

/** The lookups by id whose misses are checked for another workspace's resource. */
type Lookup =
  | { targetType: "agent"; operation: "executions.start" | "executions.list" }
  | { targetType: "execution"; operation: "executions.get" | "executions.cancel" | "executions.events" };

/** Core NATS subject on which a cancel reaches whichever instance runs the execution. */
export const CANCEL_SUBJECT = "sig.execution.cancel";

export interface ExecutionServiceDeps {
  db: Kysely<ExecutionDb>;
  bus: Bus;
  relay: OutboxRelay;
  intake: Intake;
  /** The completion callback a cancel's `execution.cancelled` schedules in its transaction. */
  callbacks: CallbackOrders;
}

/** `execution.start` and `execution.get`. */
export class ExecutionService {
  constructor(private readonly deps: ExecutionServiceDeps) {}

  /**
   * A member's start: the intake every start goes through (docs/executions.md), with the
   * member's role checked and the registry asked, with the member's claim, when the projection
   * lags it. An agent id the projection holds for another workspace is not ours, whatever the
   * registry would say: reported here, the registry is not asked (which would report it too).
   */
  async start(request: StartExecutionRequest, ctx: RequestContext): Promise<Execution> {
    const claim = requireClaim(ctx.claim);
    const context = ctx.eventContext();
    return this.deps.intake.start({
      workspaceId: claim.ws,
      agentId: request.agentId,
      input: request.input ?? null,
      trigger: request.trigger,
      executionId: request.executionId,
      principal: principalOf(claim),
      actor: { type: claim.act, id: claim.sub },
      context,
      askRegistry: async (unknownHere) => {
        if (unknownHere && (await this.isElsewhere(ctx, claim, request.agentId, { targetType: "agent", operation: "executions.start" }))) throw new AgentNotFoundError(request.agentId);
        return this.fetchAgent(request.agentId, ctx, claim, context.claim);
      },
    });
  }

  async get(id: string, ctx: RequestContext): Promise<Execution> {
    const claim = requireClaim(ctx.claim);
    const row = await findExecutionAlone(this.deps.db, claim.ws, id);
    if (!row) {
      await this.isElsewhere(ctx, claim, id, { targetType: "execution", operation: "executions.get" });
      throw new ExecutionNotFoundError(id);
    }
    if (!authorize(principalOf(claim), "executions.read")) throw new ForbiddenError("Your role may not read executions");
    return toExecution(row);
  }

  /** A page of the workspace's executions, newest first, by status and agent when asked. */
  async list(request: ListExecutionsRequest, ctx: RequestContext): Promise<ReplyData<"execution.list">> {
    const claim = requireClaim(ctx.claim);
    if (!authorize(principalOf(claim), "executions.read")) throw new ForbiddenError("Your role may not read executions");
    const { agentId } = request;
    if (agentId !== undefined) {
      // An agent's executions are listed only while it is this workspace's: a deleted one, or
      // another workspace's (reported, as for a start), is a 404. One the projection has not
      // seen yet (it may lag the registry) is the registry's to answer.
      const agent = await inWorkspace(this.deps.db, claim.ws, (tx) => findPinnableAgent(tx, agentId));
      if (agent?.deleted) throw new AgentNotFoundError(agentId);
      if (!agent) {
        if (await this.isElsewhere(ctx, claim, agentId, { targetType: "agent", operation: "executions.list" })) throw new AgentNotFoundError(agentId);
        if (!(await this.fetchAgent(agentId, ctx, claim, ctx.eventContext().claim))) throw new AgentNotFoundError(agentId);
      }
    }
    const page = await inWorkspace(this.deps.db, claim.ws, (tx) => listExecutionsPage(tx, request));
    return { items: page.rows.map(toExecution), pagination: page.pagination };
  }

  /**
   * Cancels an execution. A queued one ends `cancelled` at once, with its `execution.cancelled`
   * event. A running one is marked (so an instance taking it over after a crash sees it too)
   * and signalled on core NATS; the instance running it aborts its model call and records the
   * end. Either way the reply is the execution as the cancel left it. An ended one is a 409.
   */
  async cancel(id: string, ctx: RequestContext): Promise<Execution> {
    const { db, relay, bus, callbacks } = this.deps;
    const claim = requireClaim(ctx.claim);
    const principal = principalOf(claim);
    const context = ctx.eventContext();
    const now = new Date();
    const result = await inWorkspace(db, claim.ws, async (tx) => {
      // Locked: a scheduler claiming it now either took it first (it is running) or waits.
      const row = await findExecutionForUpdate(tx, id);
      if (!row) return null;
      if (!authorize(principal, "executions.cancel")) throw new ForbiddenError("Your role may not cancel executions");
      if (TERMINAL_STATUSES.has(row.status)) throw new ExecutionTerminalError(id, row.status);
      if (row.status === "queued") {
        const updated = await cancelQueued(tx, id, now);
        if (!updated) throw new Error(`execution ${id} was locked as queued but could not be cancelled`);
        const execution = toExecution(updated);
        const event = await recordExecutionEvent(tx, {
          type: "execution.cancelled",
          workspaceId: claim.ws,
          executionId: id,
          actor: { type: claim.act, id: claim.sub },
          data: { execution },
          context: { ...context, causationId: row.queued_event_id ?? context.causationId },
        });
        const pinned = await findAgentVersion(tx, execution.agentId, execution.agentVersion);
        const order = callbacks.orderFor(pinned?.notifyUrl, event.id, context.traceparent, now);
        if (order) await scheduleFirstAttempt(tx, { ...order, workspaceId: claim.ws, executionId: id, eventType: event.type, agentId: execution.agentId, agentVersion: execution.agentVersion, payload: event.payload, giveUpAt: new Date(order.giveUpAt) });
        return { execution, event, running: false, scheduled: order !== null };
      }
      await requestCancel(tx, id, now);
      return { execution: toExecution(row), event: null, running: true, scheduled: false };
    });
    if (!result) {
      await this.isElsewhere(ctx, claim, id, { targetType: "execution", operation: "executions.cancel" });
      throw new ExecutionNotFoundError(id);
    }
    if (result.event) relay.publishNow([result.event]);
    if (result.scheduled) callbacks.committed();
    if (result.running) {
      const signal: CancelSignal = { executionId: id, workspaceId: claim.ws };
      bus.publishCore(CANCEL_SUBJECT, signal);
    }
    return result.execution;
  }

  /** The statuses of those of `ids` that are the workspace's executions (viewers and up). */
  async statuses(request: ExecutionStatusesRequest, ctx: RequestContext): Promise<ExecutionStatusesReply> {
    const claim = requireClaim(ctx.claim);
    if (!authorize(principalOf(claim), "executions.read")) throw new ForbiddenError("Your role may not read executions");
    if (request.ids.length === 0) return { statuses: [] };
    const rows = await inWorkspace(this.deps.db, claim.ws, (tx) => tx.selectFrom("executions").select(["id", "status"]).where("id", "in", request.ids).execute());
    return { statuses: rows };
  }

  /** An execution's stored events after `afterSeq`, in order (the SSE stream's replay), and its status now. */
  async events(request: ExecutionEventsRequest, ctx: RequestContext): Promise<ExecutionEventsReply> {
    const claim = requireClaim(ctx.claim);
    const found = await inWorkspace(this.deps.db, claim.ws, async (tx) => {
      const row = await findExecution(tx, request.id);
      if (!row) return null;
      return { status: row.status, items: await listExecutionEvents(tx, request.id, request.afterSeq, request.limit) };
    });
    if (!found) {
      await this.isElsewhere(ctx, claim, request.id, { targetType: "execution", operation: "executions.events" });
      throw new ExecutionNotFoundError(request.id);
    }
    if (!authorize(principalOf(claim), "executions.read")) throw new ForbiddenError("Your role may not read executions");
    return found;
  }

  /**
   * After a lookup by id found nothing in the caller's workspace: whether the id is another
   * workspace's, in which case the attempt is recorded as a `security.cross_workspace_attempt`
   * event in the caller's workspace. The caller gets the same 404 either way; every miss asks
   * the question, so only the report's insert tells the two apart. A failure to find out or to
   * record is logged, never answered (a 503 for foreign ids alone would reveal them).
   */
  private async isElsewhere(ctx: RequestContext, claim: WorkspaceClaim, id: string, lookup: Lookup): Promise<boolean> {
    const { db, relay } = this.deps;
    return reportCrossWorkspaceAttempt({
      db, relay, claim, eventContext: () => ctx.eventContext(), client: ctx, targetType: lookup.targetType, targetId: id, operation: lookup.operation, logger: ctx.logger,
      existsElsewhere: () => (lookup.targetType === "agent" ? agentExistsElsewhere(db, id, claim.ws) : executionExistsElsewhere(db, id, claim.ws)),
    });
  }

  private async fetchAgent(agentId: string, ctx: RequestContext, claim: WorkspaceClaim, claimToken: string): Promise<Agent | null> {
    return fetchAgent(this.deps.bus, agentId, {
      claim: claimToken,
      workspaceId: claim.ws,
      traceparent: ctx.traceparent,
      correlationId: ctx.correlationId,
      // The registry reports a lookup of another workspace's agent: with where the request came from.
      clientIp: ctx.clientIp,
      userAgent: ctx.userAgent,
    });
  }
}

function requireClaim(claim: WorkspaceClaim | null): WorkspaceClaim {
  if (!claim) throw new Error("the bus let a request without a claim through");
  return claim;
}

