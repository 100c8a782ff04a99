import { type Agent, type AgentConfig, type EventActor, type Execution, type ExecutionTrigger, type GalaxyError, type Principal, uuidv7 } from "@galaxy/contracts";
import type { Bus } from "@galaxy/bus";
import { inWorkspace, sql, type EventContext, type Kysely, type OutboxRelay, type OutboxRow, type Transaction } from "@galaxy/db";
import { pinnableFrom, rememberAgent, type PinnableAgent } from "../agents/agents.repository";
import type { ExecutionDb } from "../db";
import { QuotaExceededError } from "../errors";
import { secondsUntilNextMonth, TIERS } from "../quota/tiers";
import { findExecution, toExecution, type ClaimedExecution } from "./executions.repository";
import { checkInput } from "./input-check";
import { eventsJson, stepsJson } from "./run-store";
import type { BegunRun } from "./run";
import { planStart, type BudgetFacts } from "./start-plan";
import { decideStart } from "./start-decision";
import { readWorkspaceFacts, type WorkspaceFacts } from "./workspace-facts";

/** The scheduler's claim lock (`claim_queued_executions`): an intake that takes its execution at once counts running executions under it too. */
export const CLAIM_LOCK = "execution.claim_queued_executions";

/** When a workspace's queue is full, how soon to try again. */
const QUEUE_FULL_RETRY_AFTER_SECONDS = 10;

/** A place among the executions this instance runs, kept for one the intake is about to take. */
export interface Reservation {
  launch(execution: ClaimedExecution): void;
  release(): void;
}

export interface IntakeDeps {
  db: Kysely<ExecutionDb>;
  bus: Bus;
  relay: OutboxRelay;
  /** This instance's lease owner name, and how long a lease lasts. */
  owner: string;
  leaseMs: number;
  /** A free place on this instance, or null when it runs all it may. */
  reserve: () => Reservation | null;
  /** Told that an execution waits in the queue: wakes this instance's scheduler and the others'. */
  onQueued: () => void;
}

/** What to start, from either path: a member's `execution.start`, or the worker's own work (a webhook delivery, a re-run). */
export interface StartOrder {
  workspaceId: string;
  agentId: string;
  input: unknown;
  trigger: ExecutionTrigger;
  /** A fixed id is started once: a repeat answers the execution as it is and writes nothing. */
  executionId?: string | undefined;
  /** The member asking, whose role is checked; null for the worker's own work. */
  principal: Principal | null;
  actor: EventActor;
  /** The context of `execution.queued`. */
  context: EventContext;
  /**
   * The registry's answer when the projection lacks the agent or sees it unable to start (it may
   * lag the registry); null when the registry has no such agent. `unknownHere`: the projection
   * has never seen it.
   */
  askRegistry: (unknownHere: boolean) => Promise<Agent | null>;
}

/** What the workspace's tier, usage and queue say, and what the projection knows of the agent: one statement. */
interface IntakeFacts extends Omit<WorkspaceFacts, "agents" | "existing" | "storedTier"> {
  agent: PinnableAgent | null;
  existing: boolean;
}

type Admission =
  | { kind: "exists"; execution: Execution }
  | { kind: "ask_registry"; unknownHere: boolean }
  | { kind: "rejected"; error: GalaxyError }
  | { kind: "admitted"; execution: Execution; events: OutboxRow[]; begun: BegunRun | null };

/**
 * Turns a start order into an execution (docs/executions.md): the agent's current version
 * pinned, its input checked, the tier's quotas applied, and the execution written `queued` with
 * its `execution.queued` event in one transaction. When this instance has a free place and the
 * workspace has nothing waiting and room under its concurrency, the same transaction takes it
 * (`running`, leased here, `execution.started` and its first step written) and the run begins at
 * once, without a claim.
 */
export class Intake {
  constructor(private readonly deps: IntakeDeps) {}

  async start(order: StartOrder): Promise<Execution> {
    const { db, relay, bus } = this.deps;
    const slot = this.deps.reserve();
    let launched = false;
    try {
      // The run's events carry the worker's claim; without it, the execution just waits in the queue.
      const claim = slot ? await bus.serviceClaims.get(order.workspaceId).catch(() => null) : null;
      const take = claim === null ? null : { claim };
      const lock = take ? { advisoryLock: CLAIM_LOCK } : {};
      let admission = await inWorkspace(db, order.workspaceId, (tx) => this.admit(tx, order, undefined, take), lock);
      if (admission.kind === "ask_registry") {
        const agent = await order.askRegistry(admission.unknownHere);
        admission = await inWorkspace(db, order.workspaceId, (tx) => this.admit(tx, order, agent, take), lock);
      }
      switch (admission.kind) {
        case "exists":
          return admission.execution;
        case "rejected":
          throw admission.error;
        case "ask_registry":
          throw new Error("the registry's own answer sent the start back to the registry");
        case "admitted": {
          relay.publishNow(admission.events);
          if (slot && admission.begun) {
            slot.launch({ id: admission.execution.id, workspaceId: order.workspaceId, begun: admission.begun });
            launched = true;
          } else {
            this.deps.onQueued();
          }
          return admission.execution;
        }
        default: {
          const exhaustive: never = admission;
          return exhaustive;
        }
      }
    } finally {
      if (!launched) slot?.release();
    }
  }

  /**
   * Decides and writes a start inside the workspace's transaction. `registryAgent` is the
   * registry's answer when it was asked (then it is remembered, and authoritative).
   */
  private async admit(tx: Transaction<ExecutionDb>, order: StartOrder, registryAgent: Agent | null | undefined, take: { claim: string } | null): Promise<Admission> {
    const now = new Date();
    const facts = await readFacts(tx, order, now);
    if (facts.existing && order.executionId) {
      const existing = await findExecution(tx, order.executionId);
      if (existing) return { kind: "exists", execution: toExecution(existing) };
    }
    let agent = facts.agent;
    if (registryAgent !== undefined) {
      if (registryAgent) await rememberAgent(tx, registryAgent);
      agent = registryAgent ? pinnableFrom(registryAgent) : null;
    }
    const decision = decideStart(order.agentId, agent, order.principal, registryAgent !== undefined);
    if (decision.kind === "reject") return { kind: "rejected", error: decision.error };
    if (decision.kind === "ask_registry") return { kind: "ask_registry", unknownHere: agent === null };
    checkInput(order.agentId, decision.version, decision.config, order.input ?? null);
    checkQuota(facts, now);
    const taken = take !== null && facts.queued === 0 && facts.running < TIERS[facts.tier].concurrency ? take : null;
    return this.write(tx, order, decision.version, decision.config, facts, taken, now);
  }

  private async write(tx: Transaction<ExecutionDb>, order: StartOrder, version: number, config: AgentConfig, facts: IntakeFacts, take: { claim: string } | null, now: Date): Promise<Admission> {
    const id = order.executionId ?? uuidv7();
    const { queued: queuedExecution, queuedEventId, events, begun } = planStart(order, id, version, config, facts, take, now);
    const result = await sql<{ base: number }>`
      with run as (
        insert into executions (id, workspace_id, agent_id, agent_version, status, trigger, input, created_by, correlation_id, traceparent,
                                queued_event_id, attempt, lease_owner, lease_expires_at, last_event_seq, created_at, started_at)
        values (${id}, ${order.workspaceId}, ${order.agentId}, ${version}, ${take ? "running" : "queued"}, ${JSON.stringify(order.trigger)}::jsonb,
                ${JSON.stringify(order.input ?? null)}::jsonb, ${order.actor.id}, ${order.context.correlationId}, ${order.context.traceparent ?? null},
                ${queuedEventId}, ${take ? 1 : 0}, ${take ? this.deps.owner : null},
                ${take ? sql`now() + make_interval(secs => ${this.deps.leaseMs} / 1000.0)` : null}, ${events.length}, ${now}, ${take ? now : null})
        on conflict (id) do nothing
        returning workspace_id
      )
      select 0 as base, record_run(run.workspace_id, ${id}, 0, ${eventsJson(events)}::jsonb, ${stepsJson(begun ? [begun.firstStep] : [])}::jsonb) from run`.execute(tx);
    if (result.rows.length === 0) {
      // Another copy of the same start won the race for the id: answer what it wrote.
      const existing = await findExecution(tx, id);
      if (!existing) throw new Error(`execution ${id} neither inserted nor found`);
      return { kind: "exists", execution: toExecution(existing) };
    }
    // The answer is the execution as it was queued, as its `execution.queued` says, taken at once or not.
    return { kind: "admitted", execution: queuedExecution, events, begun };
  }
}

async function readFacts(tx: Transaction<ExecutionDb>, order: StartOrder, now: Date): Promise<IntakeFacts> {
  const id = order.executionId?.toLowerCase();
  const { tier, tokensUsed, queued, running, existing, agents } = await readWorkspaceFacts(tx, order.workspaceId, id ? [id] : [], [order.agentId], now);
  return { agent: agents.get(order.agentId.toLowerCase()) ?? null, tier, tokensUsed, queued, running, existing: id !== undefined && existing.has(id) };
}

/**
 * Refuses a start the workspace's tier does not allow now (429 `quota_exceeded`): the month's
 * token budget spent, or its queue full. Both are counted without a lock, so starts of one
 * workspace never wait for each other: starts arriving at the same moment may pass the queue
 * cap by at most their number, which the cap tolerates (it protects the queue, not a bill).
 */
function checkQuota(facts: IntakeFacts, now: Date): void {
  const refusal = quotaRefusal(facts, facts.queued, now);
  if (refusal) throw refusal;
}

/** Why the workspace's tier refuses one more start now, with `queued` executions waiting; null when it allows it. */
export function quotaRefusal(budget: BudgetFacts, queued: number, now: Date): QuotaExceededError | null {
  const { tier } = budget;
  const limits = TIERS[tier];
  if (budget.tokensUsed >= limits.monthlyTokens) {
    return new QuotaExceededError(`This workspace used its ${tier} tier's ${limits.monthlyTokens} tokens for this month`, secondsUntilNextMonth(now), { quota: "monthly_tokens", tier });
  }
  if (queued >= limits.maxQueued) {
    return new QuotaExceededError(`This workspace has ${queued} executions waiting, the most its ${tier} tier allows`, QUEUE_FULL_RETRY_AFTER_SECONDS, { quota: "queued_executions", tier });
  }
  return null;
}
