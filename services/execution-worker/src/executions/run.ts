import { AgentConfig, type Execution, type StepName, uuidv7 } from "@galaxy/contracts";
import { inWorkspaceAtOnce, outboxRow, sql, type EventContext, type Kysely, type OutboxRelay, type OutboxRow } from "@galaxy/db";
import { inSpan, lazyChild, type Logger } from "@galaxy/observability";
import type { CallbackOrders } from "../callbacks/callback-orders";
import type { ExecutionDb } from "../db";
import { monthOf, Tier, TIERS } from "../quota/tiers";
import { converse, type ConversationDeps } from "./conversation";
import { toExecution, type ClaimedExecution, type ExecutionRow, type Outcome } from "./executions.repository";
import { decideOutcome } from "./outcome";
import { priceOf } from "./pricing";
import { describeFailure } from "./providers/shared";
import { DEFAULT_START_WRITE_DELAY_MS, PendingStart, type AttemptStart } from "./run-start";
import { writeRun, type StepRecord } from "./run-store";
import type { RunOutcome, RunSignals } from "./scheduler";
import { StepLog, WORKER_ACTOR } from "./step-log";
import { retryTransient, type RetryOptions } from "./transient";

/** Models already reported as missing from the price list, so the log says it once per process. */
const unpriced = new Set<string>();

export interface RunDeps extends ConversationDeps {
  db: Kysely<ExecutionDb>;
  relay: OutboxRelay;
  logger: Logger;
  /** This instance's lease owner name. */
  owner: string;
  /** Tells the other instances there is queued work: called after a hand-back on shutdown. */
  wakeOthers: () => void;
  /** How a write of the run rides out a database blip (default: up to 10 s). */
  retry?: RetryOptions | undefined;
  /** How long a claimed run's start waits to be written with its end before it is written on its own (default 1 s). */
  startWriteDelayMs?: number | undefined;
  /** The completion callbacks each end schedules in its own transaction. */
  callbacks: CallbackOrders;
}

/** What a run knows once its attempt began: `running`, its `execution.started` made, its first step open (written now or with its end: PendingStart). */
export interface BegunRun {
  /** As it runs: `running`, with its start. */
  execution: Execution;
  attempt: number;
  cancelRequested: boolean;
  config: AgentConfig | null;
  /** The span the run continues: the one that queued the execution, then the run's own. */
  traceparent: string | undefined;
  correlationId: string;
  /** What the run's events were caused by: its `execution.started`, else its `execution.queued`. */
  causationId: string;
  firstStep: StepRecord;
  /** Tokens the workspace could still use when the attempt began. */
  remainingTokens: number;
  /** The worker's service claim for the workspace, which the run's events carry. */
  claim: string;
}

/** The first step of an attempt: retrieval when the agent has knowledge bases, else the first model call. */
export function firstStepOf(config: AgentConfig | null, attempt: number, at: Date, id: string = uuidv7()): StepRecord {
  const name: StepName = config && config.knowledgeBaseIds.length > 0 ? "context" : "model_call";
  const detail: Record<string, unknown> =
    name === "context" ? { attempt, knowledgeBaseIds: config?.knowledgeBaseIds ?? [] } : { attempt, round: 1, provider: config?.provider ?? null, model: config?.model ?? null };
  return { ...StepLog.open(name, detail, at), id };
}

/** The context of the events a run records: the worker's claim, in the trace and correlation of the request that queued it. */
export function runContext(run: Pick<BegunRun, "claim" | "traceparent" | "correlationId">, causationId: string): EventContext {
  return { claim: run.claim, traceparent: run.traceparent, correlationId: run.correlationId, causationId };
}

/** `execution.started` of an attempt that is the execution's first (its seq is the statement's to give). */
export function startedEvent(execution: Execution, context: EventContext): OutboxRow {
  const startedAt = execution.startedAt ?? new Date().toISOString();
  return outboxRow({
    type: "execution.started",
    workspaceId: execution.workspaceId,
    actor: WORKER_ACTOR,
    data: { executionId: execution.id, seq: 1, agentId: execution.agentId, agentVersion: execution.agentVersion, startedAt },
    context,
  });
}

/**
 * Runs one leased execution (docs/pipeline.md): its row and config read, then the conversation
 * (context, model calls streamed, tools, output) in memory, then its end, its steps and their
 * events in one statement. The start (unless the intake took the execution and wrote it
 * already) goes with the end when the run ends within `startWriteDelayMs`, else on its own
 * once that time is over (PendingStart). Each write rides out a
 * database blip in place, so a Postgres restart of a second neither fails the run nor calls the
 * model twice: the answer waits in memory until its record is written.
 *
 * Gives the execution back to the queue, its attempt uncounted, when identity gives no service
 * claim or cannot resolve the workspace's provider key (`unavailable`: the scheduler backs off),
 * or when the instance's shutdown grace period ran out before the model answered (`handed_back`:
 * the call is aborted and its step closed as `abandoned`).
 */
export async function runExecution(deps: RunDeps, claimed: ClaimedExecution, signals: RunSignals): Promise<RunOutcome> {
  // Made when a line is written: a pino child redacts its bindings as it is made, about 30 KB of garbage per run.
  const logger = lazyChild(deps.logger, { executionId: claimed.id, workspaceId: claimed.workspaceId });
  const retry: RetryOptions = { ...deps.retry, onRetry: (err, attempt, delayMs) => logger().warn({ err, attempt, delayMs }, "the database did not answer; writing the run again") };
  let begun = claimed.begun;
  let pending: PendingStart | null = null;
  if (!begun) {
    // Every event of the run needs the claim (the `too_many_attempts` failure too): without
    // it nothing could be recorded. Identity is unreachable: back to the queue, and the
    // scheduler backs off until identity answers again.
    let claim: string;
    try {
      claim = await deps.bus.serviceClaims.get(claimed.workspaceId);
    } catch (error) {
      const returned = await handBack(deps, claimed, [], retry);
      logger().warn({ err: error, returned }, "identity gave no service claim; the execution goes back to the queue");
      return "unavailable";
    }
    if (signals.stop.aborted) return stopped(deps, claimed, [], retry);
    const stepId = uuidv7();
    const loaded = await retryTransient(() => begin(deps, claimed, claim, stepId), retry);
    if (!loaded) return "finished";
    begun = loaded.begun;
    const delayMs = deps.startWriteDelayMs ?? DEFAULT_START_WRITE_DELAY_MS;
    pending = new PendingStart(deps, { executionId: claimed.id, workspaceId: claimed.workspaceId }, loaded.start, delayMs, retry);
    // No delay: the start is committed before the model is called, in a write of its own.
    if (delayMs === 0) await pending.writeNow();
  }
  const attributes = { "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.id": begun.execution.agentId, "galaxy.execution.id": claimed.id, "galaxy.workspace.id": claimed.workspaceId, "galaxy.attempt": begun.attempt };
  const queuedBy = begun;
  // The run, in a span that continues the one that queued the execution; its steps are children.
  return inSpan("invoke_agent", { traceparent: queuedBy.traceparent }, { attributes }, async (traceparent, span) => {
    try {
      const outcome = await converseAndRecord(deps, claimed, signals, { ...queuedBy, traceparent }, pending, retry, logger);
      span.setAttribute("galaxy.run.outcome", outcome);
      return outcome;
    } finally {
      // A run that ended without a last write (its lease lost, or an error) never writes its start.
      pending?.drop();
    }
  });
}

/** The conversation of a begun run, then its end written: what `runExecution` does once the attempt began. */
async function converseAndRecord(
  deps: RunDeps, claimed: ClaimedExecution, signals: RunSignals, run: BegunRun, pending: PendingStart | null, retry: RetryOptions, logger: () => Logger,
): Promise<RunOutcome> {
  const steps = new StepLog(claimed.workspaceId, claimed.id, () => runContext(run, run.causationId), run.firstStep, run.traceparent);
  const result = await converse(deps, {
    executionId: claimed.id,
    workspaceId: claimed.workspaceId,
    agentId: run.execution.agentId,
    input: run.execution.input,
    attempt: run.attempt,
    cancelRequested: run.cancelRequested,
    config: run.config,
    claim: run.claim,
    correlationId: run.correlationId,
    remainingTokens: run.remainingTokens,
    signals,
    steps,
  });
  // The execution's error says what users may read; the log says why the call failed (a refused connection, a reset).
  if (result.kind === "failed" && result.cause !== undefined) logger().warn({ code: result.code, cause: describeFailure(result.cause) }, "the model call failed");
  if (result.kind === "stopped") return stopped(deps, claimed, steps.abandon("worker_stopped", new Date()), retry, await pending?.take());
  if (result.kind === "unavailable") {
    // As when identity gives no service claim: back to the queue, uncounted, while the scheduler backs off.
    const returned = await handBack(deps, claimed, steps.abandon("dependency_unavailable", new Date()), retry, await pending?.take());
    logger().warn({ err: result.error, returned }, "identity could not resolve the workspace's provider key; the execution goes back to the queue");
    return "unavailable";
  }
  const completedAt = new Date();
  const model = run.config?.model ?? "";
  const outcome = decideOutcome(result, model, new Date(run.execution.startedAt ?? completedAt), completedAt);
  if (!outcome) {
    logger().warn("lease lost during the model call; leaving the execution to the instance that took it over");
    return "finished";
  }
  if (model !== "" && outcome.usage.totalTokens > 0 && !priceOf(model) && !unpriced.has(model)) {
    unpriced.add(model);
    logger().warn({ model }, "no price for this model in pricing.ts; its executions cost 0");
  }
  const { steps: records, events: stepEvents } = steps.finish(outcome.status === "completed" ? "completed" : "failed", outcome.error ? { error: outcome.error } : {}, completedAt);
  const final = endEvent(run, outcome);
  const notify = deps.callbacks.orderFor(run.config?.notifyUrl, final.id, run.traceparent, completedAt);
  const start = await pending?.take();
  const end = {
    executionId: claimed.id,
    owner: deps.owner,
    change: { kind: "end", outcome, startedAt: start?.startedAt } as const,
    events: [...(start?.events ?? []), ...stepEvents, final],
    steps: records,
    abandonRunning: start?.abandonRunning,
    usage: { month: monthOf(completedAt), tokens: outcome.usage.totalTokens },
    notify,
  };
  const written = await retryTransient(() => writeRun(deps.db, claimed.workspaceId, end), retry);
  if (!written) {
    // Also what a retry sees after a commit whose answer the blip swallowed: the sweep publishes its events.
    logger().warn("the lease was not ours when the result was written; it is dropped");
    return "finished";
  }
  deps.relay.publishNow(written);
  if (notify) deps.callbacks.committed();
  return "finished";
}

/**
 * Reads a claimed execution to begin its attempt, in one round trip: its row, pinned config and
 * the workspace's budget (`load_run`, which keeps its plan: docs/decisions/0026). Answers the
 * run and the start it is to write, or null when it is no longer ours to run.
 */
async function begin(deps: RunDeps, claimed: ClaimedExecution, claim: string, stepId: string): Promise<{ begun: BegunRun; start: AttemptStart } | null> {
  const now = new Date();
  const [row] = await inWorkspaceAtOnce(
    deps.db,
    claimed.workspaceId,
    sql<ExecutionRow & { config: unknown; tier: string | null; tokens: number | null }>`
      select (r.execution).*, r.config, r.tier, r.tokens from load_run(${claimed.id}, ${monthOf(now)}::date) as r`.compile(deps.db),
  );
  if (!row || row.status !== "running" || row.lease_owner !== deps.owner) return null;
  const parsed = AgentConfig.safeParse(row.config);
  const config = parsed.success ? parsed.data : null;
  const startedAt = row.started_at ?? now;
  const execution: Execution = { ...toExecution(row), startedAt: startedAt.toISOString() };
  const tier = Tier.safeParse(row.tier);
  const remainingTokens = Math.max(0, TIERS[tier.success ? tier.data : "free"].monthlyTokens - Number(row.tokens ?? 0));
  const partial = { claim, traceparent: row.traceparent ?? undefined, correlationId: row.correlation_id };
  // A later attempt (its first worker died, or handed it back) keeps the first start and its event.
  const events = row.started_at === null ? [startedEvent(execution, runContext(partial, row.queued_event_id ?? row.id))] : [];
  const firstStep = firstStepOf(config, row.attempt, now, stepId);
  const begun: BegunRun = {
    ...partial,
    execution,
    attempt: row.attempt,
    cancelRequested: row.cancel_requested_at !== null,
    config,
    causationId: events[0]?.id ?? row.queued_event_id ?? row.id,
    firstStep,
    remainingTokens,
  };
  return { begun, start: { startedAt, events, firstStep, abandonRunning: row.started_at !== null } };
}

/** `execution.completed`, `.failed` or `.cancelled`, with the execution as its end leaves it. */
function endEvent(run: BegunRun, outcome: Outcome): OutboxRow {
  const execution: Execution = {
    ...run.execution,
    status: outcome.status,
    output: outcome.output,
    error: outcome.error,
    usage: outcome.usage,
    durationMs: outcome.durationMs,
    completedAt: outcome.completedAt.toISOString(),
  };
  const type = outcome.status === "completed" ? "execution.completed" : outcome.status === "cancelled" ? "execution.cancelled" : "execution.failed";
  return outboxRow({
    type,
    workspaceId: execution.workspaceId,
    actor: WORKER_ACTOR,
    data: { executionId: execution.id, seq: 1, execution },
    context: runContext(run, run.causationId),
    occurredAt: outcome.completedAt,
  });
}

/**
 * The instance is stopping and the grace period is over: the execution goes back to the queue
 * (attempt uncounted), the step of this attempt is closed as `abandoned`, and the other
 * instances are woken to take it. No event: `execution.queued` happened once, and stays the
 * only one.
 */
async function stopped(deps: RunDeps, claimed: ClaimedExecution, steps: StepRecord[], retry: RetryOptions, start?: AttemptStart | null): Promise<RunOutcome> {
  if (await handBack(deps, claimed, steps, retry, start)) {
    deps.logger.info({ executionId: claimed.id, workspaceId: claimed.workspaceId }, "the worker is stopping; the execution went back to the queue");
    deps.wakeOthers();
  }
  return "handed_back";
}

/**
 * Gives a leased execution back to the queue (attempt uncounted) with the steps of this attempt;
 * false when the lease was no longer ours. A start not written yet is not written: the next
 * attempt records it.
 */
async function handBack(deps: RunDeps, claimed: ClaimedExecution, steps: StepRecord[], retry: RetryOptions, start?: AttemptStart | null): Promise<boolean> {
  const write = { executionId: claimed.id, owner: deps.owner, change: { kind: "hand_back" } as const, events: [], steps, abandonRunning: start?.abandonRunning };
  const written = await retryTransient(() => writeRun(deps.db, claimed.workspaceId, write), retry);
  return written !== null;
}
