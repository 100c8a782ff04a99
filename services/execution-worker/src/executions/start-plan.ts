import { ZERO_USAGE, type AgentConfig, type Execution } from "@galaxy/contracts";
import { outboxRow, type OutboxRow } from "@galaxy/db";
import { TIERS, type Tier } from "../quota/tiers";
import { numbered } from "./run-store";
import { firstStepOf, runContext, startedEvent, type BegunRun } from "./run";
import type { StartOrder } from "./intake";

/** What the intake writes for one admitted start: its row's values, its events (numbered from 1) and, when taken at once, its begun run. */
export interface StartPlan {
  /** The execution as its `execution.queued` says, taken at once or not. */
  queued: Execution;
  queuedEventId: string;
  /** `execution.queued`, then `execution.started` when taken at once; seq 1, 2. */
  events: OutboxRow[];
  begun: BegunRun | null;
}

/** The workspace's budget as the intake read it. */
export interface BudgetFacts {
  tier: Tier;
  tokensUsed: number;
}

/**
 * Plans the start of a new execution with the agent's pinned `version`: queued, or taken at
 * once (`take`: the worker's claim, for the run's events) with its first step open. Pure: the
 * caller writes the plan, in its own statement.
 */
export function planStart(order: StartOrder, id: string, version: number, config: AgentConfig, budget: BudgetFacts, take: { claim: string } | null, now: Date): StartPlan {
  const queuedExecution: Execution = {
    id,
    workspaceId: order.workspaceId,
    agentId: order.agentId,
    agentVersion: version,
    status: "queued",
    trigger: order.trigger,
    input: order.input ?? null,
    output: null,
    error: null,
    usage: ZERO_USAGE,
    durationMs: null,
    createdAt: now.toISOString(),
    startedAt: null,
    completedAt: null,
  };
  const queued = outboxRow({ type: "execution.queued", workspaceId: order.workspaceId, actor: order.actor, data: { executionId: id, seq: 1, execution: queuedExecution }, context: order.context, occurredAt: now });
  if (!take) return { queued: queuedExecution, queuedEventId: queued.id, events: [queued], begun: null };
  const execution: Execution = { ...queuedExecution, status: "running", startedAt: now.toISOString() };
  const partial = { claim: take.claim, traceparent: order.context.traceparent, correlationId: order.context.correlationId };
  const started = startedEvent(execution, runContext(partial, queued.id));
  const begun: BegunRun = {
    ...partial,
    execution,
    attempt: 1,
    cancelRequested: false,
    config,
    causationId: started.id,
    firstStep: firstStepOf(config, 1, now),
    remainingTokens: Math.max(0, TIERS[budget.tier].monthlyTokens - budget.tokensUsed),
  };
  return { queued: queuedExecution, queuedEventId: queued.id, events: numbered([queued, started], 0), begun };
}
