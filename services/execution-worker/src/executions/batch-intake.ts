import { isRetryable } from "@galaxy/bus";
import { atCommit, inWorkspace, inWorkspaceAtOnce, sql, type OutboxRow } from "@galaxy/db";
import type { ExecutionDb } from "../db";
import { TIERS } from "../quota/tiers";
import { foreseenAnswer, foreseenStartWrite, Foresights } from "./foreseen-start";
import { checkInput } from "./input-check";
import { CLAIM_LOCK, quotaRefusal, type Intake, type IntakeDeps, type Reservation, type StartOrder } from "./intake";
import { startsWrite, type PlannedStart, type StartsWrite } from "./start-rows";
import { planStart } from "./start-plan";
import { decideStart } from "./start-decision";
import { readWorkspaceFacts, type WorkspaceFacts } from "./workspace-facts";

/** A start with a fixed id: a batch may be handed again, whole or in part, and must start each once. */
export type BatchOrder = StartOrder & { executionId: string };

/** What became of each order of a batch, in order: null when it is started (now, or before), else why it never can be. */
export type BatchOutcomes = Array<Error | null>;

/** What becomes of a batch's orders as it is planned: outcomes, orders for the intake alone, and copies of an earlier order (index, original). */
interface BatchState {
  outcomes: BatchOutcomes;
  alone: number[];
  copies: Array<[number, number]>;
}


/**
 * Starts many orders (webhook deliveries) at once (docs/webhooks.md, "Intake"): in ONE
 * transaction, each workspace's orders as one group under its own workspace setting (row-level
 * security is per setting), with one read of its agents, tier, usage, queue and existing ids,
 * and one statement writing all its new executions and their events. The checks are the
 * intake's, per order: the pinned version's `inputSchema`, the month's budget and the queue cap
 * (counting the orders of the batch queued before it). A workspace with nothing queued takes
 * at once, up to its room under its tier's concurrency and this instance's free places, its
 * first orders, under the claim lock (taken then, and only then: a burst's batches, which
 * queue, never hold the scheduler's claims back); the rest wait for the fair claim. A batch of
 * one workspace that had nothing waiting at its last batch here (a lone delivery, most often)
 * takes the lock with its transaction's first round trip, and reads once, under it: two round
 * trips fewer than reading, locking and reading again (docs/benchmarks.md, "Webhook to
 * completed: where the milliseconds went"). An order
 * whose agent the projection does not know as startable is handed to the intake alone after
 * the commit (it asks the registry). A lone delivery to a workspace a batch here read before
 * is planned from that read and written in one round trip, by a statement that writes it only
 * if the facts still allow the plan (docs/decisions/0033); otherwise it goes the way every batch goes.
 */
export class BatchIntake {
  /** Workspaces whose last batch here found or left executions waiting, or no room: their next batch is likely queued, so it locks only if it may take. */
  private readonly waiting = new Set<string>();
  /** What batches here read of each workspace's agents, tier and tokens: a lone delivery's start is planned from it (startForeseen). */
  private readonly foresights = new Foresights();
  /** Lone deliveries started in one round trip, and those whose foreseen plan no longer held (then read and planned as every batch is). */
  readonly foreseen = { written: 0, refused: 0 };

  constructor(private readonly deps: IntakeDeps & { intake: Intake }) {}

  async startAll(orders: readonly BatchOrder[]): Promise<BatchOutcomes> {
    const outcomes: BatchOutcomes = orders.map(() => null);
    const groups = groupByWorkspace(orders);
    const [first] = groups.keys();
    if (first === undefined) return outcomes;
    const { db, relay, bus } = this.deps;
    // The run's events carry the worker's claim; without it, the workspace's executions just wait in the queue.
    const claims = new Map<string, string>();
    for (const workspaceId of groups.keys()) {
      const claim = await bus.serviceClaims.get(workspaceId).catch(() => null);
      if (claim !== null) claims.set(workspaceId, claim);
    }
    const slots: Reservation[] = [];
    const planned: PlannedStart[] = [];
    const state: BatchState = { outcomes, alone: [], copies: [] };
    const lockFirst = groups.size === 1 && claims.has(first) && !this.waiting.has(first);
    const [lone] = orders;
    const loneClaim = lockFirst && orders.length === 1 ? claims.get(first) : undefined;
    if (lone && loneClaim !== undefined && (await this.startForeseen(lone, loneClaim))) return outcomes;
    try {
      const written = await inWorkspace(db, first, async (tx) => {
        let locked = lockFirst;
        const inserted: PlannedStart[] = [];
        // Each group's write is sent before the next group's setting; the last one with the commit.
        let pending: StartsWrite | undefined;
        for (const [workspaceId, indexes] of groups) {
          if (pending) inserted.push(...pending.written((await tx.executeQuery(pending.query)).rows));
          // Row-level security reads the setting of the moment: each group writes as its own workspace.
          if (workspaceId !== first) await sql`select set_config('app.workspace_id', ${workspaceId.toLowerCase()}, true)`.execute(tx);
          const groupOrders = indexes.map((i) => orders[i] as BatchOrder);
          const read = () => readWorkspaceFacts(tx, workspaceId, groupOrders.map((order) => order.executionId), groupOrders.map((order) => order.agentId), new Date());
          let facts = await read();
          const claim = claims.get(workspaceId) ?? null;
          let reserved: Reservation[] = [];
          if (claim !== null && facts.queued === 0 && facts.running < TIERS[facts.tier].concurrency) {
            // It may take some at once: only then are places kept and the claim lock taken, and
            // its running count read again under the lock (a burst holds neither).
            reserved = this.reserveUpTo(Math.min(indexes.length, TIERS[facts.tier].concurrency - facts.running));
            slots.push(...reserved);
            if (reserved.length > 0 && !locked) {
              await sql`select pg_advisory_xact_lock(hashtext(${CLAIM_LOCK}))`.execute(tx);
              locked = true;
              facts = await read();
            }
          }
          this.foresights.learn(workspaceId, facts);
          const group = this.planGroup(orders, indexes, facts, claim, reserved.length, state);
          this.remember(workspaceId, facts.queued > 0 || facts.running >= TIERS[facts.tier].concurrency || group.some((start) => start.plan.begun === null));
          pending = startsWrite(tx, workspaceId, group, this.deps);
        }
        const last = pending;
        return last ? atCommit(last.query, (rows) => [...inserted, ...last.written(rows)]) : inserted;
      }, lockFirst ? { advisoryLock: CLAIM_LOCK } : {});
      planned.push(...written);
    } catch (error) {
      for (const slot of slots) slot.release();
      throw error;
    }
    relay.publishNow(planned.flatMap((start): OutboxRow[] => start.plan.events));
    let launched = 0;
    let queued = false;
    for (const start of planned) {
      const slot = start.plan.begun ? slots[launched] : undefined;
      if (slot && start.plan.begun) {
        slot.launch({ id: start.plan.queued.id, workspaceId: start.plan.queued.workspaceId, begun: start.plan.begun });
        launched += 1;
      } else {
        queued = true;
      }
    }
    for (const slot of slots.slice(launched)) slot.release();
    if (queued) this.deps.onQueued();
    for (const index of state.alone) outcomes[index] = await this.startAlone(orders[index] as BatchOrder);
    for (const [copy, original] of state.copies) outcomes[copy] = outcomes[original] ?? null;
    return outcomes;
  }

  /**
   * A lone delivery to a workspace read before, in ONE round trip (docs/decisions/0033): planned
   * from what batches here read of the workspace and its agent, taken at once, and written only
   * if the facts still allow exactly that (foreseen-start.ts). True when it is done (started
   * now, or before); false when no plan could be made or it no longer held, and nothing was
   * written: the caller then reads and plans as for every batch.
   */
  private async startForeseen(order: BatchOrder, claim: string): Promise<boolean> {
    const foresight = this.foresights.get(order.workspaceId, order.agentId);
    if (!foresight) return false;
    const decision = decideStart(order.agentId, foresight.agent, order.principal, false);
    if (decision.kind !== "enqueue" || quotaRefusal(foresight, 0, new Date())) return false;
    try {
      checkInput(order.agentId, decision.version, decision.config, order.input ?? null);
    } catch {
      // Refused as the batch path refuses it, from facts read now.
      return false;
    }
    const slot = this.deps.reserve();
    if (!slot) return false;
    let launched = false;
    try {
      const { db, relay, owner, leaseMs } = this.deps;
      const now = new Date();
      const plan = planStart(order, order.executionId, decision.version, decision.config, foresight, { claim }, now);
      const begun = plan.begun;
      if (!begun) throw new Error("a start planned to be taken at once has no begun run");
      const query = foreseenStartWrite(db, { order, version: decision.version, plan }, foresight, { owner, leaseMs }, now);
      const answer = foreseenAnswer(await inWorkspaceAtOnce(db, order.workspaceId, query, { advisoryLock: CLAIM_LOCK }), order.executionId);
      this.foresights.learn(order.workspaceId, answer.facts);
      if (!answer.written) {
        this.foreseen.refused += 1;
        // A redelivery of a started execution: nothing to do, as in a batch.
        return answer.facts.existing.has(order.executionId.toLowerCase());
      }
      this.foreseen.written += 1;
      relay.publishNow(plan.events);
      // The run's budget is what the statement read, not what was read before.
      const remainingTokens = Math.max(0, TIERS[answer.facts.tier].monthlyTokens - answer.facts.tokensUsed);
      slot.launch({ id: order.executionId, workspaceId: order.workspaceId, begun: { ...begun, remainingTokens } });
      launched = true;
      this.remember(order.workspaceId, false);
      return true;
    } finally {
      if (!launched) slot.release();
    }
  }

  /** Decides each order of one workspace's group; those to write, planned (taken at once while room is left in `free` places kept for it). */
  private planGroup(orders: readonly BatchOrder[], indexes: number[], facts: WorkspaceFacts, claim: string | null, free: number, state: BatchState): PlannedStart[] {
    const { outcomes, alone } = state;
    const now = new Date();
    const group: PlannedStart[] = [];
    const room = facts.queued === 0 ? Math.min(free, TIERS[facts.tier].concurrency - facts.running) : 0;
    let queuedHere = facts.queued;
    let taken = 0;
    const seen = new Map<string, number>();
    for (const index of indexes) {
      const order = orders[index] as BatchOrder;
      // Started before: nothing more to do. A copy of a delivery earlier in this batch fares as it does.
      if (facts.existing.has(order.executionId)) continue;
      const original = seen.get(order.executionId);
      if (original !== undefined) {
        state.copies.push([index, original]);
        continue;
      }
      seen.set(order.executionId, index);
      const decision = decideStart(order.agentId, facts.agents.get(order.agentId) ?? null, order.principal, false);
      if (decision.kind !== "enqueue") {
        alone.push(index);
        continue;
      }
      try {
        checkInput(order.agentId, decision.version, decision.config, order.input ?? null);
      } catch (error) {
        outcomes[index] = error instanceof Error ? error : new Error(String(error));
        continue;
      }
      const take = claim !== null && taken < room ? { claim } : null;
      const refusal = quotaRefusal(facts, take ? facts.queued : queuedHere, now);
      if (refusal) {
        outcomes[index] = refusal;
        continue;
      }
      if (take) taken += 1;
      else queuedHere += 1;
      group.push({ order, version: decision.version, plan: planStart(order, order.executionId, decision.version, decision.config, facts, take, now) });
    }
    return group;
  }

  /** Through the intake alone (it asks the registry); a refusal for good is the order's outcome, anything else fails the batch. */
  private async startAlone(order: BatchOrder): Promise<Error | null> {
    try {
      await this.deps.intake.start(order);
      return null;
    } catch (error) {
      if (error instanceof Error && !isRetryable(error)) return error;
      throw error;
    }
  }

  /** Notes whether the workspace has executions waiting, or no room to take more (bounded: forgotten wholesale past 10,000 workspaces). */
  private remember(workspaceId: string, waiting: boolean): void {
    if (!waiting) {
      this.waiting.delete(workspaceId);
      return;
    }
    if (this.waiting.size >= 10_000) this.waiting.clear();
    this.waiting.add(workspaceId);
  }

  private reserveUpTo(count: number): Reservation[] {
    const slots: Reservation[] = [];
    while (slots.length < count) {
      const slot = this.deps.reserve();
      if (!slot) break;
      slots.push(slot);
    }
    return slots;
  }
}

/** The orders' indexes by workspace, in the order each workspace first appears. */
function groupByWorkspace(orders: readonly BatchOrder[]): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  for (const [index, order] of orders.entries()) {
    const group = groups.get(order.workspaceId);
    if (group) group.push(index);
    else groups.set(order.workspaceId, [index]);
  }
  return groups;
}
