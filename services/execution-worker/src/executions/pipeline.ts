import type { Bus } from "@galaxy/bus";
import type { AgentConfig, EventActor, ExecutionError, Usage } from "@galaxy/contracts";
import { appendEvent, inWorkspace, type EventContext, type Kysely, type OutboxRelay, type OutboxRow } from "@galaxy/db";
import { childTraceparent, type Logger } from "@galaxy/observability";
import { findAgentVersion } from "../agents/agents.repository";
import type { ExecutionDb } from "../db";
import { ModelCallError, type ModelFailureCode } from "../errors";
import { closeStep, finishExecution, findExecution, handBack, markStarted, openStep, toExecution, type ClaimedExecution, type Outcome } from "./executions.repository";
import { modelRequest } from "./messages";
import { costUsd, priceOf } from "./pricing";
import type { ModelAnswer, ModelProviders } from "./providers";
import type { RunOutcome, RunSignals } from "./scheduler";

export const WORKER_ACTOR: EventActor = { type: "service", id: "execution-worker" };

/** Models already reported as missing from the price list, so the log says it once per process. */
const unpriced = new Set<string>();

export interface PipelineDeps {
  db: Kysely<ExecutionDb>;
  bus: Bus;
  relay: OutboxRelay;
  providers: ModelProviders;
  logger: Logger;
  /** This instance's lease owner name. */
  owner: string;
  /** The model call's limit when the agent sets no `timeoutMs`. */
  defaultTimeoutMs: number;
  /** Attempts (an instance died mid-run) after which an execution fails instead of running again. */
  maxAttempts: number;
  /** Tells the other instances there is queued work: called after a hand-back on shutdown. */
  wakeOthers: () => void;
}

/** How a model call ended; `stopped` when the instance's shutdown grace period ran out first. */
export type CallResult = { kind: "answered"; answer: ModelAnswer } | { kind: "failed"; code: ModelFailureCode; message: string } | { kind: "stopped" };

/**
 * What an execution's record becomes after its call; null when this instance lost the lease
 * and must record nothing (the instance that took over will).
 */
export function decideOutcome(result: Exclude<CallResult, { kind: "stopped" }>, model: string, startedAt: Date, completedAt: Date): Outcome | null {
  const durationMs = Math.max(0, completedAt.getTime() - startedAt.getTime());
  const zero: Usage = { inputTokens: 0, outputTokens: 0, totalTokens: 0, costUsd: 0 };
  switch (result.kind) {
    case "answered": {
      const { answer } = result;
      const usage = { inputTokens: answer.inputTokens, outputTokens: answer.outputTokens, totalTokens: answer.totalTokens, costUsd: costUsd(priceOf(model), answer.inputTokens, answer.outputTokens) };
      return { status: "completed", output: { text: answer.text }, error: null, usage, durationMs, completedAt };
    }
    case "failed": {
      const error: ExecutionError = { code: result.code, message: result.message };
      switch (result.code) {
        case "lease_lost":
          return null;
        case "timeout":
          return { status: "timed_out", output: null, error, usage: zero, durationMs, completedAt };
        case "provider_error":
        case "provider_not_configured":
        case "agent_version_missing":
        case "too_many_attempts":
          return { status: "failed", output: null, error, usage: zero, durationMs, completedAt };
        default: {
          const exhaustive: never = result.code;
          return exhaustive;
        }
      }
    }
    default: {
      const exhaustive: never = result;
      return exhaustive;
    }
  }
}

/**
 * Runs one leased execution: marks it started, calls the model within the agent's timeout,
 * records output, usage, cost and duration, and emits `execution.started` and
 * `execution.completed` / `execution.failed` through the outbox with a service claim, in the
 * trace and correlation of the request that queued it.
 *
 * Gives the execution back to the queue, its attempt uncounted, when identity gives no service
 * claim (`unavailable`), or when the instance's shutdown grace period ran out before the model
 * answered (`handed_back`: the call is aborted and its step closed as `abandoned`).
 */
export async function runExecution(deps: PipelineDeps, claimed: ClaimedExecution, signals: RunSignals): Promise<RunOutcome> {
  const { db, relay, owner } = deps;
  const ws = claimed.workspaceId;
  const logger = deps.logger.child({ executionId: claimed.id, workspaceId: ws });

  // First, before anything is written: every event of the pipeline needs the claim (the
  // `too_many_attempts` failure too), so without it nothing could be recorded. Identity is
  // unreachable (it issues a service claim for any workspace): the execution goes straight
  // back to the queue, and the scheduler backs off until identity answers again.
  let claim: string;
  try {
    claim = await deps.bus.serviceClaims.get(ws);
  } catch (error) {
    const returned = await inWorkspace(db, ws, (tx) => handBack(tx, claimed.id, owner));
    logger.warn({ err: error, returned }, "identity gave no service claim; the execution goes back to the queue");
    return "unavailable";
  }
  const contextFor = (row: { traceparent: string; correlation_id: string }, causationId: string): EventContext => ({
    claim,
    traceparent: childTraceparent(row.traceparent),
    correlationId: row.correlation_id,
    causationId,
  });
  if (signals.stop.aborted) return stopped(deps, claimed, null);

  const stepStartedAt = new Date();
  const begun = await inWorkspace(db, ws, async (tx) => {
    const row = await findExecution(tx, claimed.id);
    if (!row || row.status !== "running" || row.lease_owner !== owner) return null;
    const config = await findAgentVersion(tx, row.agent_id, row.agent_version);
    const startedAt = row.started_at ?? stepStartedAt;
    const events: OutboxRow[] = [];
    // A later attempt (its first worker died, or handed it back) keeps the first start and its event.
    if (await markStarted(tx, row.id, owner, startedAt)) {
      events.push(
        await appendEvent(tx, {
          type: "execution.started",
          workspaceId: ws,
          actor: WORKER_ACTOR,
          data: { executionId: row.id, agentId: row.agent_id, agentVersion: row.agent_version, startedAt: startedAt.toISOString() },
          context: contextFor(row, row.queued_event_id ?? row.id),
        }),
      );
    }
    const detail = { attempt: row.attempt, provider: config?.provider ?? null, model: config?.model ?? null };
    const stepId = await openStep(tx, { workspaceId: ws, executionId: row.id, name: "model_call", startedAt: stepStartedAt, detail, closeAbandoned: row.started_at !== null });
    return { row, config, startedAt, events, stepId, detail };
  });
  if (!begun) return "finished";
  const { row, config, startedAt } = begun;
  relay.publishNow(begun.events);

  const result = await call(deps, config, row.input, row.attempt, signals, ws);
  if (result.kind === "stopped") return stopped(deps, claimed, { id: begun.stepId, startedAt: stepStartedAt, detail: begun.detail });
  const completedAt = new Date();
  const outcome = decideOutcome(result, config?.model ?? "", startedAt, completedAt);
  if (!outcome) {
    logger.warn("lease lost during the model call; leaving the execution to the instance that took it over");
    return "finished";
  }
  if (config && outcome.status === "completed" && !priceOf(config.model) && !unpriced.has(config.model)) {
    unpriced.add(config.model);
    logger.warn({ model: config.model }, "no price for this model in pricing.ts; its executions cost 0");
  }

  const finished = await inWorkspace(db, ws, async (tx) => {
    const updated = await finishExecution(tx, row.id, owner, outcome);
    if (!updated) return null;
    await closeStep(tx, begun.stepId, outcome.status === "completed" ? "completed" : "failed", completedAt, completedAt.getTime() - stepStartedAt.getTime(), {
      ...begun.detail,
      inputTokens: outcome.usage.inputTokens,
      outputTokens: outcome.usage.outputTokens,
      ...(outcome.error ? { error: outcome.error } : {}),
    });
    return appendEvent(tx, {
      type: outcome.status === "completed" ? "execution.completed" : "execution.failed",
      workspaceId: ws,
      actor: WORKER_ACTOR,
      data: { execution: toExecution(updated) },
      context: contextFor(row, begun.events[0]?.id ?? row.queued_event_id ?? row.id),
    });
  });
  if (!finished) {
    logger.warn("lease lost before the result was recorded; the result is dropped");
    return "finished";
  }
  relay.publishNow([finished]);
  if (outcome.error) logger.info({ status: outcome.status, error: outcome.error }, "execution did not complete");
  return "finished";
}

/**
 * The instance is stopping and the grace period is over: the execution goes back to the queue
 * (attempt uncounted), the step of this attempt is closed as `abandoned`, and the other
 * instances are woken to take it. No event: `execution.queued` happened once, and stays the
 * only one.
 */
async function stopped(deps: PipelineDeps, claimed: ClaimedExecution, step: { id: string; startedAt: Date; detail: object } | null): Promise<RunOutcome> {
  const returned = await inWorkspace(deps.db, claimed.workspaceId, async (tx) => {
    if (!(await handBack(tx, claimed.id, deps.owner))) return false;
    if (step) {
      const at = new Date();
      await closeStep(tx, step.id, "abandoned", at, at.getTime() - step.startedAt.getTime(), { ...step.detail, reason: "worker_stopped" });
    }
    return true;
  });
  if (returned) {
    deps.logger.info({ executionId: claimed.id, workspaceId: claimed.workspaceId }, "the worker is stopping; the execution went back to the queue");
    deps.wakeOthers();
  }
  return "handed_back";
}

async function call(deps: PipelineDeps, config: AgentConfig | null, input: unknown, attempt: number, signals: RunSignals, workspaceId: string): Promise<CallResult> {
  if (signals.stop.aborted) return { kind: "stopped" };
  if (attempt > deps.maxAttempts) {
    return { kind: "failed", code: "too_many_attempts", message: `The execution was interrupted ${attempt - 1} times and is not tried again` };
  }
  if (!config) return { kind: "failed", code: "agent_version_missing", message: "The agent version this execution pinned is unknown to the worker" };
  const timeoutMs = config.timeoutMs ?? deps.defaultTimeoutMs;
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(new Error("timeout")), timeoutMs);
  try {
    const answer = await deps.providers.complete(modelRequest(config, input), AbortSignal.any([signals.lease, signals.stop, timeout.signal]), workspaceId);
    return { kind: "answered", answer };
  } catch (error) {
    // An abort is read from the signals, whatever shape the SDK gave it.
    if (signals.lease.aborted) return { kind: "failed", code: "lease_lost", message: "The worker lost the execution's lease" };
    if (signals.stop.aborted) return { kind: "stopped" };
    if (timeout.signal.aborted) return { kind: "failed", code: "timeout", message: `The model did not answer within ${timeoutMs} ms` };
    if (error instanceof ModelCallError) return { kind: "failed", code: error.code, message: error.message };
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
