import type { Bus } from "@galaxy/bus";
import { KNOWLEDGE_TOP_K_DEFAULT, UnavailableError, type AgentConfig, type EventActor, type ExecutionDelta, type ExecutionError, type ExecutionStep, type KnowledgeSearchHit, type Usage } from "@galaxy/contracts";
import { inWorkspace, type EventContext, type Kysely, type OutboxRelay, type OutboxRow, type Transaction } from "@galaxy/db";
import { childTraceparent, type Logger } from "@galaxy/observability";
import { findAgentVersion } from "../agents/agents.repository";
import type { ExecutionDb } from "../db";
import { ModelCallError, type ModelFailureCode } from "../errors";
import { schemaViolation } from "../tools/json-schema";
import { runTool, toolSpecs, type ToolSettings } from "../tools/tools";
import { recordExecutionEvent } from "./events";
import { closeStep, finishExecution, findExecution, handBack, markStarted, openStep, toExecution, type ClaimedExecution, type ExecutionRow, type Outcome } from "./executions.repository";
import { modelRequest, systemWithContext, userMessage, type ToolResult, type ToolRound } from "./messages";
import { costUsd, priceOf } from "./pricing";
import { DEFAULT_MAX_OUTPUT_TOKENS, type ModelProviders } from "./providers";
import type { RunOutcome, RunSignals } from "./scheduler";

export const WORKER_ACTOR: EventActor = { type: "service", id: "execution-worker" };

/** Models already reported as missing from the price list, so the log says it once per process. */
const unpriced = new Set<string>();

/** Model↔tool rounds an execution may take when the worker's configuration says nothing. */
export const DEFAULT_MAX_TOOL_ROUNDS = 5;

export interface PipelineDeps {
  db: Kysely<ExecutionDb>;
  bus: Bus;
  relay: OutboxRelay;
  providers: ModelProviders;
  logger: Logger;
  /** This instance's lease owner name. */
  owner: string;
  /** The limit on an execution's steps (context, model calls, tools) when the agent sets no `timeoutMs`. */
  defaultTimeoutMs: number;
  /** Attempts (an instance died mid-run) after which an execution fails instead of running again. */
  maxAttempts: number;
  /** Tells the other instances there is queued work: called after a hand-back on shutdown. */
  wakeOthers: () => void;
  /** Webhook tools: the outbound policy, the master key their secrets derive from, their timeout. */
  tools: ToolSettings;
  /** Rounds of tool calls an execution may take; the model must answer after the last (default 5). */
  maxToolRounds?: number | undefined;
  /** Tokens the workspace may still use this month (its tier's budget); unlimited without it. */
  budget?: ((workspaceId: string) => Promise<number>) | undefined;
}

/** Tokens an execution's model calls used, summed over its rounds. */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
}

/** The final answer of an execution: its text, the JSON when the agent has an `outputSchema`, and the tokens of every round. */
export interface FinalAnswer extends TokenUsage {
  text: string;
  json?: unknown;
}

/** How an execution's model calls ended; `stopped` when the instance's shutdown grace period ran out first. */
export type CallResult =
  | { kind: "answered"; answer: FinalAnswer }
  | { kind: "failed"; code: ModelFailureCode; message: string; usage?: TokenUsage }
  | { kind: "stopped" }
  | { kind: "unavailable"; error: UnavailableError };

/**
 * What an execution's record becomes after its calls; null when this instance lost the lease
 * and must record nothing (the instance that took over will). Tokens a failed execution used
 * before it failed are counted (and cost) all the same.
 */
export function decideOutcome(result: Exclude<CallResult, { kind: "stopped" | "unavailable" }>, model: string, startedAt: Date, completedAt: Date): Outcome | null {
  const durationMs = Math.max(0, completedAt.getTime() - startedAt.getTime());
  const usageOf = (tokens: TokenUsage | undefined): Usage =>
    tokens
      ? { inputTokens: tokens.inputTokens, outputTokens: tokens.outputTokens, totalTokens: tokens.totalTokens, costUsd: costUsd(priceOf(model), tokens.inputTokens, tokens.outputTokens) }
      : { inputTokens: 0, outputTokens: 0, totalTokens: 0, costUsd: 0 };
  switch (result.kind) {
    case "answered": {
      const { answer } = result;
      const output = answer.json === undefined ? { text: answer.text } : { text: answer.text, json: answer.json };
      return { status: "completed", output, error: null, usage: usageOf(answer), durationMs, completedAt };
    }
    case "failed": {
      const error: ExecutionError = { code: result.code, message: result.message };
      switch (result.code) {
        case "lease_lost":
          return null;
        case "timeout":
          return { status: "timed_out", output: null, error, usage: usageOf(result.usage), durationMs, completedAt };
        case "cancelled":
          return { status: "cancelled", output: null, error, usage: usageOf(result.usage), durationMs, completedAt };
        case "budget_exceeded":
        case "provider_error":
        case "provider_not_configured":
        case "agent_version_missing":
        case "too_many_attempts":
        case "output_schema_violation":
        case "tool_rounds_exceeded":
        case "knowledge_unavailable":
          return { status: "failed", output: null, error, usage: usageOf(result.usage), durationMs, completedAt };
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
 * The JSON of an answer whose agent has an `outputSchema`: the text as JSON, or, when the text
 * wraps it (a code fence, words around it), the outermost object or array in it.
 */
export function parseOutputJson(text: string): { ok: true; value: unknown } | { ok: false } {
  const candidates = [text.trim()];
  const fenced = /```(?:json)?\s*([\s\S]*?)```/i.exec(text);
  if (fenced?.[1]) candidates.push(fenced[1].trim());
  for (const [open, close] of [["{", "}"], ["[", "]"]] as const) {
    const first = text.indexOf(open);
    const last = text.lastIndexOf(close);
    if (first !== -1 && last > first) candidates.push(text.slice(first, last + 1));
  }
  for (const candidate of candidates) {
    try {
      return { ok: true, value: JSON.parse(candidate) as unknown };
    } catch {
      // the next candidate
    }
  }
  return { ok: false };
}

/** An execution's open step: the one that is running now. */
interface OpenStep {
  id: string;
  name: ExecutionStep["name"];
  startedAt: Date;
  detail: Record<string, unknown>;
}

/**
 * Records an execution's steps: each one opened in `execution_steps` when it starts, closed
 * with its timing and detail when it ends, with an `execution.step_completed` event (in the
 * same transaction) so the execution's event stream shows its progress.
 */
class StepLog {
  /** Set once the run stopped waiting for its steps (see `end`): no step opens after it. */
  private ended = false;
  /** The step write in progress, if any. */
  private writing: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly deps: PipelineDeps,
    private readonly workspaceId: string,
    private readonly executionId: string,
    private readonly context: () => EventContext,
    public current: OpenStep,
  ) {}

  /** Closes the current step and opens the next, in one transaction. */
  async next(status: ExecutionStep["status"], detail: Record<string, unknown>, name: ExecutionStep["name"], nextDetail: Record<string, unknown>): Promise<void> {
    if (this.ended) throw new Error("the execution's run already ended; no step opens after it");
    const at = new Date();
    const write = inWorkspace(this.deps.db, this.workspaceId, async (tx) => {
      const recorded = await this.closeIn(tx, status, detail, at);
      const id = await openStep(tx, { workspaceId: this.workspaceId, executionId: this.executionId, name, startedAt: at, detail: nextDetail, closeAbandoned: false });
      this.current = { id, name, startedAt: at, detail: nextDetail };
      return recorded;
    });
    this.writing = write.catch(() => undefined);
    const event = await write;
    this.deps.relay.publishNow([event]);
  }

  /**
   * Ends the log: a run that stopped waiting for a stuck step (its time limit, a stop or a
   * cancel) opens no step after this, and `current` is final once the write in progress, if
   * any, has committed.
   */
  async end(): Promise<void> {
    this.ended = true;
    await this.writing;
  }

  /** Closes the current step inside the caller's transaction and records its event; returns the outbox row to publish after the commit. */
  async closeIn(tx: Transaction<ExecutionDb>, status: ExecutionStep["status"], detail: Record<string, unknown>, at = new Date()): Promise<OutboxRow> {
    const step = this.current;
    const durationMs = Math.max(0, at.getTime() - step.startedAt.getTime());
    const fullDetail = { ...step.detail, ...detail };
    await closeStep(tx, step.id, status, at, durationMs, fullDetail);
    return recordExecutionEvent(tx, {
      type: "execution.step_completed",
      workspaceId: this.workspaceId,
      executionId: this.executionId,
      actor: WORKER_ACTOR,
      data: { step: { name: step.name, status, startedAt: step.startedAt.toISOString(), completedAt: at.toISOString(), durationMs, detail: fullDetail } },
      context: this.context(),
    });
  }
}

/**
 * Runs one leased execution: marks it started, then the pipeline (CONTRACT §1, issue #4):
 * context from the agent's knowledge bases, the model call streamed (token deltas on core NATS
 * `live.<ws>.execution.<id>`), the tools it asks for (at most `maxToolRounds` rounds), the output
 * checked against the agent's `outputSchema`, then usage, cost and duration. Each step is a row of
 * `execution_steps` and an `execution.step_completed` event; `execution.started` and
 * `execution.completed` / `execution.failed` go through the outbox with a service claim, in the
 * trace and correlation of the request that queued it. The agent's `timeoutMs` covers it all.
 *
 * Gives the execution back to the queue, its attempt uncounted, when identity gives no service
 * claim or cannot resolve the workspace's provider key (`unavailable`: the scheduler backs off),
 * or when the instance's shutdown grace period ran out before the model answered (`handed_back`:
 * the call is aborted and its step closed as `abandoned`). The time limit, a stop, a cancel or a
 * lost lease ends the steps even when one waits on something that ignores them, so no step can
 * keep the execution `running`, its lease renewed, for longer than the agent allows.
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
        await recordExecutionEvent(tx, {
          type: "execution.started",
          workspaceId: ws,
          executionId: row.id,
          actor: WORKER_ACTOR,
          data: { agentId: row.agent_id, agentVersion: row.agent_version, startedAt: startedAt.toISOString() },
          context: contextFor(row, row.queued_event_id ?? row.id),
        }),
      );
    }
    // The first step: retrieval when the agent has knowledge bases, else the first model call.
    const name: ExecutionStep["name"] = config && config.knowledgeBaseIds.length > 0 ? "context" : "model_call";
    const detail: Record<string, unknown> =
      name === "context" ? { attempt: row.attempt, knowledgeBaseIds: config?.knowledgeBaseIds ?? [] } : { attempt: row.attempt, round: 1, provider: config?.provider ?? null, model: config?.model ?? null };
    const stepId = await openStep(tx, { workspaceId: ws, executionId: row.id, name, startedAt: stepStartedAt, detail, closeAbandoned: row.started_at !== null });
    return { row, config, startedAt, events, step: { id: stepId, name, startedAt: stepStartedAt, detail } };
  });
  if (!begun) return "finished";
  const { row, config, startedAt } = begun;
  relay.publishNow(begun.events);
  const causationId = begun.events[0]?.id ?? row.queued_event_id ?? row.id;
  const steps = new StepLog(deps, ws, row.id, () => contextFor(row, causationId), begun.step);

  let result: CallResult;
  try {
    result = await converse(deps, { config, row, claim, signals, steps, logger });
  } catch (error) {
    // The step log could not write (the database went away): the lease runs out and another attempt runs it.
    logger.error({ err: error }, "the pipeline failed; the execution is left to its lease");
    return "finished";
  }
  if (result.kind === "stopped") return stopped(deps, claimed, steps.current);
  if (result.kind === "unavailable") {
    // As when identity gives no service claim: back to the queue, uncounted, while the scheduler backs off.
    const returned = await handBackRun(deps, claimed, steps.current, "dependency_unavailable");
    logger.warn({ err: result.error, returned }, "identity could not resolve the workspace's provider key; the execution goes back to the queue");
    return "unavailable";
  }
  const completedAt = new Date();
  const outcome = decideOutcome(result, config?.model ?? "", startedAt, completedAt);
  if (!outcome) {
    logger.warn("lease lost during the model call; leaving the execution to the instance that took it over");
    return "finished";
  }
  if (config && (outcome.usage.inputTokens > 0 || outcome.usage.outputTokens > 0) && !priceOf(config.model) && !unpriced.has(config.model)) {
    unpriced.add(config.model);
    logger.warn({ model: config.model }, "no price for this model in pricing.ts; its executions cost 0");
  }

  const finished = await inWorkspace(db, ws, async (tx) => {
    const updated = await finishExecution(tx, row.id, owner, outcome);
    if (!updated) return null;
    const stepEvent = await steps.closeIn(tx, outcome.status === "completed" ? "completed" : "failed", outcome.error ? { error: outcome.error } : {}, completedAt);
    const final = await recordExecutionEvent(tx, {
      type: outcome.status === "completed" ? "execution.completed" : outcome.status === "cancelled" ? "execution.cancelled" : "execution.failed",
      workspaceId: ws,
      executionId: row.id,
      actor: WORKER_ACTOR,
      data: { execution: toExecution(updated) },
      context: contextFor(row, causationId),
    });
    return [stepEvent, final];
  });
  if (!finished) {
    logger.warn("lease lost before the result was recorded; the result is dropped");
    return "finished";
  }
  relay.publishNow(finished);
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
  const returned = await handBackRun(deps, claimed, step, "worker_stopped");
  if (returned) {
    deps.logger.info({ executionId: claimed.id, workspaceId: claimed.workspaceId }, "the worker is stopping; the execution went back to the queue");
    deps.wakeOthers();
  }
  return "handed_back";
}

/**
 * Gives a leased execution back to the queue (attempt uncounted) and closes the step this
 * attempt left open as `abandoned`, with why; false when the lease was no longer ours.
 */
async function handBackRun(deps: PipelineDeps, claimed: ClaimedExecution, step: { id: string; startedAt: Date; detail: object } | null, reason: "worker_stopped" | "dependency_unavailable"): Promise<boolean> {
  return inWorkspace(deps.db, claimed.workspaceId, async (tx) => {
    if (!(await handBack(tx, claimed.id, deps.owner))) return false;
    if (step) {
      const at = new Date();
      await closeStep(tx, step.id, "abandoned", at, at.getTime() - step.startedAt.getTime(), { ...step.detail, reason });
    }
    return true;
  });
}

interface Conversation {
  config: AgentConfig | null;
  row: ExecutionRow;
  claim: string;
  signals: RunSignals;
  steps: StepLog;
  logger: Logger;
}

/**
 * The steps between the start and the record: context, model calls and tool rounds, output.
 * Returns with one step still open (the last), which the caller closes with the outcome.
 */
async function converse(deps: PipelineDeps, c: Conversation): Promise<CallResult> {
  const { config, row, signals, steps } = c;
  const ws = row.workspace_id;
  if (signals.stop.aborted) return { kind: "stopped" };
  if (row.attempt > deps.maxAttempts) {
    return { kind: "failed", code: "too_many_attempts", message: `The execution was interrupted ${row.attempt - 1} times and is not tried again` };
  }
  // Cancelled before this attempt began (the signal came first, or went to an instance that died since).
  if (row.cancel_requested_at !== null || signals.cancel.aborted) return { kind: "failed", code: "cancelled", message: "Cancelled while running" };
  if (!config) return { kind: "failed", code: "agent_version_missing", message: "The agent version this execution pinned is unknown to the worker" };
  const timeoutMs = config.timeoutMs ?? deps.defaultTimeoutMs;
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(new Error("timeout")), timeoutMs);
  const signal = AbortSignal.any([signals.lease, signals.stop, signals.cancel, timeout.signal]);
  const used: TokenUsage = { inputTokens: 0, outputTokens: 0, totalTokens: 0 };
  const modelDetail = (round: number) => ({ attempt: row.attempt, round, provider: config.provider, model: config.model });

  // Token deltas: core NATS only, numbered across the execution's model calls.
  let deltaIndex = 0;
  const liveSubject = `live.${ws}.execution.${row.id}`;
  const onDelta = (delta: string) => {
    const message: ExecutionDelta = { executionId: row.id, index: deltaIndex, delta };
    deltaIndex += 1;
    deps.bus.publishCore(liveSubject, message);
  };
  const searchKnowledge = async (query: string, topK: number): Promise<KnowledgeSearchHit[]> => {
    const reply = await deps.bus.request(
      "registry.knowledge.search",
      { knowledgeBaseIds: config.knowledgeBaseIds, query: query.slice(0, 8_000), topK },
      { claim: c.claim, workspaceId: ws, traceparent: childTraceparent(row.traceparent), correlationId: row.correlation_id },
    );
    return reply.results;
  };

  // The steps, bounded as a whole: a step that waits on something deaf to the signal (a
  // lookup, a write) cannot hold the lease past the time limit, a stop or a cancel.
  const talk = async (): Promise<CallResult> => {
    // 1. Context: the passages closest to the user's message, after the system prompt.
    let system = config.systemPrompt;
    const user = userMessage(row.input);
    if (config.knowledgeBaseIds.length > 0) {
      let hits: KnowledgeSearchHit[];
      try {
        hits = await searchKnowledge(user.length > 0 ? user : "-", KNOWLEDGE_TOP_K_DEFAULT);
      } catch (error) {
        if (signal.aborted) throw error;
        return { kind: "failed", code: "knowledge_unavailable", message: `The agent's knowledge bases could not be searched: ${error instanceof Error ? error.message : String(error)}` };
      }
      system = systemWithContext(system, hits);
      await steps.next("completed", { hits: hits.length, documentIds: [...new Set(hits.map((hit) => hit.documentId))] }, "model_call", modelDetail(1));
    }

    // 2–3. Model calls, and the tools each answer asks for.
    const specs = toolSpecs(config.tools);
    const rounds: ToolRound[] = [];
    const maxRounds = deps.maxToolRounds ?? DEFAULT_MAX_TOOL_ROUNDS;
    for (let round = 1; ; round += 1) {
      // The budget: checked before each call, and the answer capped at what is left of it.
      const remaining = deps.budget ? (await deps.budget(ws)) - used.totalTokens : Number.POSITIVE_INFINITY;
      if (remaining <= 0) return { kind: "failed", code: "budget_exceeded", message: "The workspace's monthly token budget is spent", usage: { ...used } };
      // The budget caps the answer only where it is tighter than the agent's own limit (or the
      // provider's default): a provider refuses a max_tokens beyond what its model can write.
      const capped = remaining < (config.maxTokens ?? DEFAULT_MAX_OUTPUT_TOKENS[config.provider]);
      const maxTokens = capped ? remaining : config.maxTokens;
      const answer = await deps.providers.complete(modelRequest({ ...config, maxTokens }, row.input, { system, tools: specs, rounds }), signal, ws, onDelta);
      // An SDK whose stream was aborted may end it quietly, as if the answer were whole.
      if (signal.aborted) throw signal.reason;
      used.inputTokens += answer.inputTokens;
      used.outputTokens += answer.outputTokens;
      used.totalTokens += answer.totalTokens;
      const tokens = { inputTokens: answer.inputTokens, outputTokens: answer.outputTokens };
      if (capped && answer.outputTokens >= remaining) {
        return { kind: "failed", code: "budget_exceeded", message: `The answer reached the ${remaining} tokens left of the workspace's monthly budget`, usage: { ...used } };
      }
      if (answer.toolCalls.length === 0) {
        // 4. Output: the text, and its JSON checked against the agent's outputSchema.
        await steps.next("completed", tokens, "output", { hasOutputSchema: config.outputSchema !== null });
        return finalAnswer(config, answer.text, used);
      }
      if (round > maxRounds) {
        return {
          kind: "failed",
          code: "tool_rounds_exceeded",
          message: `The model still asked for tools after ${maxRounds} rounds of tool calls`,
          usage: { ...used },
        };
      }
      const calls = answer.toolCalls;
      const results: ToolResult[] = [];
      // The step before each tool call is closed as its tool call opens: the model call, then each tool call.
      let closing: { status: ExecutionStep["status"]; detail: Record<string, unknown> } = { status: "completed", detail: { ...tokens, toolCalls: calls.map((call) => call.name) } };
      for (const [index, call] of calls.entries()) {
        await steps.next(closing.status, closing.detail, "tool_call", { round, tool: call.name, callId: call.id });
        const outcome = await runTool(call, config.tools, { workspaceId: ws, agentId: row.agent_id, executionId: row.id, round, index, knowledgeBaseIds: config.knowledgeBaseIds, searchKnowledge, signal }, deps.tools);
        if (signal.aborted) throw signal.reason;
        closing = { status: outcome.ok ? "completed" : "failed", detail: outcome.detail };
        results.push({ callId: call.id, name: call.name, content: outcome.content, isError: !outcome.ok });
      }
      rounds.push({ text: answer.text, calls, results });
      await steps.next(closing.status, closing.detail, "model_call", modelDetail(round + 1));
    }
  };

  try {
    return await untilAborted(talk(), signal);
  } catch (error) {
    // An abort is read from the signals, whatever shape the SDK gave it.
    if (signals.lease.aborted) return { kind: "failed", code: "lease_lost", message: "The worker lost the execution's lease" };
    if (signals.stop.aborted) return { kind: "stopped" };
    if (signals.cancel.aborted) return { kind: "failed", code: "cancelled", message: "Cancelled while running", usage: { ...used } };
    if (timeout.signal.aborted) return { kind: "failed", code: "timeout", message: `The execution did not finish within ${timeoutMs} ms`, usage: { ...used } };
    if (error instanceof ModelCallError) return { kind: "failed", code: error.code, message: error.message, usage: { ...used } };
    // Identity could not say whether the workspace has its own provider key: not the execution's fault.
    if (error instanceof UnavailableError) return { kind: "unavailable", error };
    throw error;
  } finally {
    clearTimeout(timer);
    await steps.end();
  }
}

/** Settles as `work` does, or rejects with the signal's reason as soon as it aborts, whatever `work` still waits on. */
async function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  // Whatever `work` ends with after the abort is no one's business any more.
  work.catch(() => undefined);
  if (signal.aborted) throw signal.reason;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([work, aborted]);
  } finally {
    if (onAbort) signal.removeEventListener("abort", onAbort);
  }
}

/** The answer as the execution's output: with its JSON when the agent has an `outputSchema`, which the JSON must satisfy. */
function finalAnswer(config: AgentConfig, text: string, used: TokenUsage): CallResult {
  if (!config.outputSchema) return { kind: "answered", answer: { text, ...used } };
  const parsed = parseOutputJson(text);
  if (!parsed.ok) return { kind: "failed", code: "output_schema_violation", message: "The answer is not JSON, and the agent's outputSchema asks for JSON", usage: { ...used } };
  const violation = schemaViolation(config.outputSchema, parsed.value);
  if (violation) return { kind: "failed", code: "output_schema_violation", message: `The answer does not match the agent's outputSchema: ${violation}`, usage: { ...used } };
  return { kind: "answered", answer: { text, json: parsed.value, ...used } };
}
