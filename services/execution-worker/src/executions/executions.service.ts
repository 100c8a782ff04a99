import { v7 as uuidv7 } from "uuid";
import type { Bus, RequestContext } from "@galaxy/bus";
import {
  authorize, ForbiddenError, principalOf, GalaxyError, ZERO_USAGE, type Agent, type AgentConfig, type Execution, type Principal, type StartExecutionRequest,
  type WorkspaceClaim,
} from "@galaxy/contracts";
import { appendEvent, inWorkspace, type EventContext, type Kysely, type OutboxRelay, type OutboxRow, type Transaction } from "@galaxy/db";
import { findPinnableAgent, pinnableFrom, rememberAgent, type PinnableAgent } from "../agents/agents.repository";
import type { ExecutionDb } from "../db";
import { AgentNotActiveError, AgentNotFoundError, ExecutionNotFoundError } from "../errors";
import { agentExistsElsewhere, executionExistsElsewhere, findExecution, insertExecution, toExecution } from "./executions.repository";

/** The lookups by id whose misses are checked for another workspace's resource. */
type Lookup = { targetType: "agent"; operation: "executions.start" } | { targetType: "execution"; operation: "executions.get" };

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
      return this.enqueue(tx, claim, context, request, decision.version);
    });
    if ("unknownHere" in local && local.unknownHere) {
      // Agent ids are unique across workspaces: one the projection holds for another workspace
      // is not ours, whatever the registry would say. Reported here, the registry is not asked
      // (which would report it too); an agent the projection has not seen at all is left to
      // the registry, which reports it when it belongs elsewhere.
      if (await this.isElsewhere(ctx, claim, request.agentId, { targetType: "agent", operation: "executions.start" })) throw new AgentNotFoundError(request.agentId);
    }
    const queued = "execution" in local ? local : await this.startFromRegistry(request, ctx, claim, principal, context);
    this.deps.relay.publishNow([queued.event]);
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
          return this.enqueue(tx, claim, context, request, decision.version);
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
    try {
      const elsewhere = lookup.targetType === "agent" ? await agentExistsElsewhere(db, id, claim.ws) : await executionExistsElsewhere(db, id, claim.ws);
      if (!elsewhere) return false;
      const context = ctx.eventContext();
      const actor = { type: claim.act, id: claim.sub };
      const event = await inWorkspace(db, claim.ws, (tx) =>
        appendEvent(tx, {
          type: "security.cross_workspace_attempt",
          workspaceId: claim.ws,
          actor,
          context,
          data: { actor, targetType: lookup.targetType, targetId: id, operation: lookup.operation, ipAddress: ctx.clientIp ?? null, userAgent: ctx.userAgent ?? null },
        }),
      );
      relay.publishNow([event]);
      return true;
    } catch (error) {
      ctx.logger.error({ err: error, id, ...lookup }, "could not check or record a cross-workspace attempt");
      return false;
    }
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

  private async enqueue(tx: Transaction<ExecutionDb>, claim: WorkspaceClaim, context: EventContext, request: StartExecutionRequest, version: number): Promise<{ execution: Execution; event: OutboxRow }> {
    const execution: Execution = {
      id: uuidv7(),
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
    const event = await appendEvent(tx, {
      type: "execution.queued",
      workspaceId: claim.ws,
      actor: { type: claim.act, id: claim.sub },
      data: { execution },
      context,
    });
    await insertExecution(tx, { execution, createdBy: claim.sub, correlationId: context.correlationId, traceparent: context.traceparent, queuedEventId: event.id });
    return { execution, event };
  }
}

function requireClaim(claim: WorkspaceClaim | null): WorkspaceClaim {
  if (!claim) throw new Error("the bus let a request without a claim through");
  return claim;
}

