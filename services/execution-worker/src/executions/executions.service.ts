import { v7 as uuidv7 } from "uuid";
import type { Bus, RequestContext } from "@galaxy/bus";
import {
  authorize, ForbiddenError, principalOf, GalaxyError, TERMINAL_STATUSES, ZERO_USAGE, type Agent, type AgentConfig, type CancelSignal, type Execution,
  type ExecutionEventsReply, type ExecutionEventsRequest, type ListExecutionsRequest, type Principal, type ReplyData, type StartExecutionRequest, type WorkspaceClaim,
} from "@galaxy/contracts";
import { inWorkspace, reportCrossWorkspaceAttempt, type EventContext, type Kysely, type OutboxRelay, type OutboxRow, type Transaction } from "@galaxy/db";
import { findPinnableAgent, pinnableFrom, rememberAgent, type PinnableAgent } from "../agents/agents.repository";
import type { ExecutionDb } from "../db";
import { AgentNotActiveError, AgentNotFoundError, ExecutionNotFoundError, ExecutionTerminalError, QuotaExceededError } from "../errors";
import { queuedCount, tierOf, tokensUsed } from "../quota/quota.repository";
import { secondsUntilNextMonth, TIERS } from "../quota/tiers";
import { listExecutionEvents, recordExecutionEvent } from "./events";
import {
  agentExistsElsewhere, cancelQueued, executionExistsElsewhere, findExecution, findExecutionForUpdate, insertExecution, requestCancel, setQueuedEventId,
  toExecution,
} from "./executions.repository";
import { checkInput } from "./input-check";
import { listExecutionsPage } from "./list";

/** The lookups by id whose misses are checked for another workspace's resource. */
type Lookup =
  | { targetType: "agent"; operation: "executions.start" | "executions.list" }
  | { targetType: "execution"; operation: "executions.get" | "executions.cancel" | "executions.events" };

/** Core NATS subject on which a cancel reaches whichever instance runs the execution. */
export const CANCEL_SUBJECT = "sig.execution.cancel";

/** When a workspace's queue is full, how soon to try again. */
const QUEUE_FULL_RETRY_AFTER_SECONDS = 10;

/** What to do with a start request, given what is known of the agent. */
export type StartDecision =
  | { kind: "enqueue"; version: number; config: AgentConfig }
  | { kind: "ask_registry" }
  | { kind: "reject"; error: GalaxyError };

/**
 * Decides a start. `authoritative` is true when the agent comes from the registry itself: the
 * projection may lag the registry (its event may not have reached the worker yet), so only
 * the registry's answer may refuse a missing or inactive agent. A missing agent is a 404
 * before any role is checked (CONTRACT §1).
 */
export function decideStart(agentId: string, agent: PinnableAgent | null, principal: Principal, authoritative: boolean): StartDecision {
  if (!agent || agent.deleted) return authoritative ? { kind: "reject", error: new AgentNotFoundError(agentId) } : { kind: "ask_registry" };
  if (!authorize(principal, "executions.start")) return { kind: "reject", error: new ForbiddenError("Your role may not start executions") };
  if (agent.status !== "active") return authoritative ? { kind: "reject", error: new AgentNotActiveError(agentId, agent.status) } : { kind: "ask_registry" };
  if (!agent.config) return { kind: "ask_registry" };
  return { kind: "enqueue", version: agent.version, config: agent.config };
}

export interface ExecutionServiceDeps {
  db: Kysely<ExecutionDb>;
  bus: Bus;
  relay: OutboxRelay;
  /** Called after an execution was committed as queued: wakes the local scheduler. */
  onQueued: (executionId: string) => void;
}

/** `execution.start` and `execution.get`. */
export class ExecutionService {
  constructor(private readonly deps: ExecutionServiceDeps) {}

  /**
   * Pins the agent's current version and records the execution `queued` with its
   * `execution.queued` event in one transaction; readable the moment this returns.
   */
  async start(request: StartExecutionRequest, ctx: RequestContext): Promise<Execution> {
    const { db } = this.deps;
    const claim = requireClaim(ctx.claim);
    const principal = principalOf(claim);
    const context = ctx.eventContext();

    // The hot path: the projection knows the agent, and one transaction does the rest.
    const local = await inWorkspace(db, claim.ws, async (tx) => {
      const agent = await findPinnableAgent(tx, request.agentId);
      const decision = decideStart(request.agentId, agent, principal, false);
      if (decision.kind === "reject") throw decision.error;
      if (decision.kind === "ask_registry") return { unknownHere: agent === null };
      return this.enqueue(tx, claim, context, request, decision.version, decision.config);
    });
    if ("unknownHere" in local && local.unknownHere) {
      // Agent ids are unique across workspaces: one the projection holds for another workspace
      // is not ours, whatever the registry would say. Reported here, the registry is not asked
      // (which would report it too); an agent the projection has not seen at all is left to
      // the registry, which reports it when it belongs elsewhere.
      if (await this.isElsewhere(ctx, claim, request.agentId, { targetType: "agent", operation: "executions.start" })) throw new AgentNotFoundError(request.agentId);
    }
    const queued = "execution" in local ? local : await this.startFromRegistry(request, ctx, claim, principal, context);
    if (queued.event) this.deps.relay.publishNow([queued.event]);
    this.deps.onQueued(queued.execution.id);
    return queued.execution;
  }

  async get(id: string, ctx: RequestContext): Promise<Execution> {
    const claim = requireClaim(ctx.claim);
    const row = await inWorkspace(this.deps.db, claim.ws, (tx) => findExecution(tx, id));
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
    const { db, relay, bus } = this.deps;
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
        return { execution, event, running: false };
      }
      await requestCancel(tx, id, now);
      return { execution: toExecution(row), event: null, running: true };
    });
    if (!result) {
      await this.isElsewhere(ctx, claim, id, { targetType: "execution", operation: "executions.cancel" });
      throw new ExecutionNotFoundError(id);
    }
    if (result.event) relay.publishNow([result.event]);
    if (result.running) {
      const signal: CancelSignal = { executionId: id, workspaceId: claim.ws };
      bus.publishCore(CANCEL_SUBJECT, signal);
    }
    return result.execution;
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
   * The projection lacks the agent, its current version, or sees it inactive: the registry may
   * have committed a change whose event has not reached us yet, so ask it, and keep its answer.
   */
  private async startFromRegistry(request: StartExecutionRequest, ctx: RequestContext, claim: WorkspaceClaim, principal: Principal, context: EventContext) {
    const { db } = this.deps;
    const agent = await this.fetchAgent(request.agentId, ctx, claim, context.claim);
    const decision = decideStart(request.agentId, agent ? pinnableFrom(agent) : null, principal, true);
    switch (decision.kind) {
      case "enqueue":
        return inWorkspace(db, claim.ws, async (tx) => {
          if (agent) await rememberAgent(tx, agent);
          return this.enqueue(tx, claim, context, request, decision.version, decision.config);
        });
      case "reject":
        if (agent) await inWorkspace(db, claim.ws, (tx) => rememberAgent(tx, agent));
        throw decision.error;
      case "ask_registry":
        throw new Error("the registry's own answer sent the start back to the registry");
      default: {
        const exhaustive: never = decision;
        return exhaustive;
      }
    }
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
    try {
      const agent = await this.deps.bus.request("registry.agents.get", { id: agentId }, {
        claim: claimToken,
        workspaceId: claim.ws,
        traceparent: ctx.traceparent,
        correlationId: ctx.correlationId,
        // The registry reports a lookup of another workspace's agent: with where the request came from.
        clientIp: ctx.clientIp,
        userAgent: ctx.userAgent,
      });
      // A registry answering for another workspace would be a bug there; never trust it here.
      return agent.workspaceId === claim.ws ? agent : null;
    } catch (error) {
      if (error instanceof GalaxyError && error.status === 404) return null;
      throw error;
    }
  }

  private async enqueue(
    tx: Transaction<ExecutionDb>, claim: WorkspaceClaim, context: EventContext, request: StartExecutionRequest, version: number, config: AgentConfig,
  ): Promise<{ execution: Execution; event: OutboxRow | null }> {
    if (request.executionId) {
      // A fixed id is started once: a repeat answers the execution as it is and emits nothing.
      // Two repeats at the same moment cannot both insert (primary key); the loser retries and lands here.
      const existing = await findExecution(tx, request.executionId);
      if (existing) return { execution: toExecution(existing), event: null };
    }
    checkInput(request.agentId, version, config, request.input ?? null);
    await checkQuota(tx, claim.ws, new Date());
    const execution: Execution = {
      id: request.executionId ?? uuidv7(),
      workspaceId: claim.ws,
      agentId: request.agentId,
      agentVersion: version,
      status: "queued",
      trigger: request.trigger,
      input: request.input ?? null,
      output: null,
      error: null,
      usage: ZERO_USAGE,
      durationMs: null,
      createdAt: new Date().toISOString(),
      startedAt: null,
      completedAt: null,
    };
    await insertExecution(tx, { execution, createdBy: claim.sub, correlationId: context.correlationId, traceparent: context.traceparent, queuedEventId: null });
    const event = await recordExecutionEvent(tx, {
      type: "execution.queued",
      workspaceId: claim.ws,
      executionId: execution.id,
      actor: { type: claim.act, id: claim.sub },
      data: { execution },
      context,
    });
    await setQueuedEventId(tx, execution.id, event.id);
    return { execution, event };
  }
}

/**
 * Refuses a start the workspace's tier does not allow now (429 `quota_exceeded`): the month's
 * token budget spent, or its queue full. Both are counted without a lock, so starts of one
 * workspace never wait for each other: starts arriving at the same moment may pass the queue
 * cap by at most their number, which the cap tolerates (it protects the queue, not a bill).
 */
async function checkQuota(tx: Transaction<ExecutionDb>, workspaceId: string, now: Date): Promise<void> {
  const tier = await tierOf(tx, workspaceId);
  const limits = TIERS[tier];
  const used = await tokensUsed(tx, workspaceId, now);
  if (used >= limits.monthlyTokens) {
    throw new QuotaExceededError(`This workspace used its ${tier} tier's ${limits.monthlyTokens} tokens for this month`, secondsUntilNextMonth(now), {
      quota: "monthly_tokens",
      tier,
    });
  }
  const queued = await queuedCount(tx, workspaceId);
  if (queued >= limits.maxQueued) {
    throw new QuotaExceededError(`This workspace has ${queued} executions waiting, the most its ${tier} tier allows`, QUEUE_FULL_RETRY_AFTER_SECONDS, {
      quota: "queued_executions",
      tier,
    });
  }
}

function requireClaim(claim: WorkspaceClaim | null): WorkspaceClaim {
  if (!claim) throw new Error("the bus let a request without a claim through");
  return claim;
}

