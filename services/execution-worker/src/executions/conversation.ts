import { KNOWLEDGE_TOP_K_DEFAULT, UnavailableError, type AgentConfig, type ExecutionDelta, type ExecutionStep, type KnowledgeSearchHit } from "@galaxy/contracts";
import type { Bus } from "@galaxy/bus";
import { inSpan, modelCallAttributes, SpanKind, toolCallAttributes } from "@galaxy/observability";
import { ModelCallError, type ModelFailureCode } from "../errors";
import { schemaViolation } from "../tools/json-schema";
import { runTool, toolSpecs, type ToolSettings } from "../tools/tools";
import { linkedAbort } from "./linked-abort";
import { modelRequest, systemWithContext, userMessage, type ToolResult, type ToolRound } from "./messages";
import { parseOutputJson, type FinalAnswer, type TokenUsage } from "./outcome";
import { costUsd, priceOf } from "./pricing";
import { DEFAULT_MAX_OUTPUT_TOKENS, type ModelProviders } from "./providers";
import type { RunSignals } from "./scheduler";
import type { StepLog } from "./step-log";

/** `gen_ai.provider.name` of each provider an agent may use (OpenTelemetry's GenAI conventions). */
const GEN_AI_PROVIDER: Record<AgentConfig["provider"], string> = { openai: "openai", anthropic: "anthropic", google: "gcp.gemini" };

/** Model↔tool rounds an execution may take when the worker's configuration says nothing. */
export const DEFAULT_MAX_TOOL_ROUNDS = 5;

/** How an execution's model calls ended; `stopped` when the instance's shutdown grace period ran out first. */
export type CallResult =
  | { kind: "answered"; answer: FinalAnswer }
  | { kind: "failed"; code: ModelFailureCode; message: string; usage?: TokenUsage; /** What made the model call fail, for the worker's log (never the execution's error). */ cause?: unknown }
  | { kind: "stopped" }
  | { kind: "unavailable"; error: UnavailableError };

export interface ConversationDeps {
  bus: Bus;
  providers: ModelProviders;
  /** The limit on an execution's steps (context, model calls, tools) when the agent sets no `timeoutMs`. */
  defaultTimeoutMs: number;
  /** Attempts (an instance died mid-run) after which an execution fails instead of running again. */
  maxAttempts: number;
  /** Webhook tools: the outbound policy, the master key their secrets derive from, their timeout. */
  tools: ToolSettings;
  /** Rounds of tool calls an execution may take; the model must answer after the last (default 5). */
  maxToolRounds?: number | undefined;
}

/** The execution as its conversation needs it. */
export interface Conversation {
  executionId: string;
  workspaceId: string;
  agentId: string;
  input: unknown;
  attempt: number;
  cancelRequested: boolean;
  config: AgentConfig | null;
  /** The worker's service claim, for the knowledge search. */
  claim: string;
  correlationId: string;
  /** Tokens the workspace could still use when the attempt began (its tier's budget). */
  remainingTokens: number;
  signals: RunSignals;
  steps: StepLog;
}

/**
 * The steps between the start and the record: context, model calls and tool rounds, output.
 * Returns with one step still open (the last), which the caller closes with the outcome.
 */
export async function converse(deps: ConversationDeps, c: Conversation): Promise<CallResult> {
  const { config, signals, steps } = c;
  const ws = c.workspaceId;
  if (signals.stop.aborted) return { kind: "stopped" };
  if (c.attempt > deps.maxAttempts) {
    return { kind: "failed", code: "too_many_attempts", message: `The execution was interrupted ${c.attempt - 1} times and is not tried again` };
  }
  // Cancelled before this attempt began (the signal came first, or went to an instance that died since).
  if (c.cancelRequested || signals.cancel.aborted) return { kind: "failed", code: "cancelled", message: "Cancelled while running" };
  if (!config) return { kind: "failed", code: "agent_version_missing", message: "The agent version this execution pinned is unknown to the worker" };
  const timeoutMs = config.timeoutMs ?? deps.defaultTimeoutMs;
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(new Error("timeout")), timeoutMs);
  const link = linkedAbort([signals.lease, signals.stop, signals.cancel, timeout.signal]);
  const signal = link.signal;
  const used: TokenUsage = { inputTokens: 0, outputTokens: 0, totalTokens: 0 };
  const modelDetail = (round: number) => ({ attempt: c.attempt, round, provider: config.provider, model: config.model });

  // Token deltas: core NATS only, numbered across the execution's model calls.
  let deltaIndex = 0;
  const liveSubject = `live.${ws}.execution.${c.executionId}`;
  const onDelta = (delta: string) => {
    const message: ExecutionDelta = { executionId: c.executionId, index: deltaIndex, delta };
    deltaIndex += 1;
    deps.bus.publishCore(liveSubject, message);
  };
  const searchKnowledge = async (query: string, topK: number): Promise<KnowledgeSearchHit[]> => {
    const reply = await deps.bus.request(
      "registry.knowledge.search",
      { knowledgeBaseIds: config.knowledgeBaseIds, query: query.slice(0, 8_000), topK },
      { claim: c.claim, workspaceId: ws, traceparent: steps.stepTraceparent(), correlationId: c.correlationId },
    );
    return reply.results;
  };

  // The steps, bounded as a whole: a step that waits on something deaf to the signal (a
  // lookup, a call) cannot hold the lease past the time limit, a stop or a cancel.
  const talk = async (): Promise<CallResult> => {
    // 1. Context: the passages closest to the user's message, after the system prompt.
    let system = config.systemPrompt;
    const user = userMessage(c.input);
    if (config.knowledgeBaseIds.length > 0) {
      let hits: KnowledgeSearchHit[];
      try {
        hits = await searchKnowledge(user.length > 0 ? user : "-", KNOWLEDGE_TOP_K_DEFAULT);
      } catch (error) {
        if (signal.aborted) throw error;
        return { kind: "failed", code: "knowledge_unavailable", message: `The agent's knowledge bases could not be searched: ${error instanceof Error ? error.message : String(error)}` };
      }
      system = systemWithContext(system, hits);
      steps.next("completed", { hits: hits.length, documentIds: [...new Set(hits.map((hit) => hit.documentId))] }, "model_call", modelDetail(1));
    }

    // 2–3. Model calls, and the tools each answer asks for.
    const specs = toolSpecs(config.tools);
    const rounds: ToolRound[] = [];
    const maxRounds = deps.maxToolRounds ?? DEFAULT_MAX_TOOL_ROUNDS;
    for (let round = 1; ; round += 1) {
      // The budget: checked before each call, and the answer capped at what is left of it.
      const remaining = c.remainingTokens - used.totalTokens;
      if (remaining <= 0) return { kind: "failed", code: "budget_exceeded", message: "The workspace's monthly token budget is spent", usage: { ...used } };
      // The budget caps the answer only where it is tighter than the agent's own limit (or the
      // provider's default): a provider refuses a max_tokens beyond what its model can write.
      const capped = remaining < (config.maxTokens ?? DEFAULT_MAX_OUTPUT_TOKENS[config.provider]);
      const maxTokens = capped ? remaining : config.maxTokens;
      const call = { provider: GEN_AI_PROVIDER[config.provider], requestModel: config.model };
      const answer = await inSpan(`chat ${config.model}`, { traceparent: steps.stepTraceparent() }, { kind: SpanKind.CLIENT, attributes: modelCallAttributes(call) }, async (_tp, span) => {
        const reply = await deps.providers.complete(modelRequest({ ...config, maxTokens }, c.input, { system, tools: specs, rounds }), signal, ws, onDelta);
        span.setAttributes(modelCallAttributes({ ...call, responseModel: reply.model, inputTokens: reply.inputTokens, outputTokens: reply.outputTokens }));
        return reply;
      });
      // An SDK whose stream was aborted may end it quietly, as if the answer were whole.
      if (signal.aborted) throw signal.reason;
      used.inputTokens += answer.inputTokens;
      used.outputTokens += answer.outputTokens;
      used.totalTokens += answer.totalTokens;
      // The call's own cost in its step (galaxy_model_cost_usd_total counts it as the step is published).
      const tokens = { inputTokens: answer.inputTokens, outputTokens: answer.outputTokens, costUsd: costUsd(priceOf(config.model), answer.inputTokens, answer.outputTokens) };
      if (capped && answer.outputTokens >= remaining) {
        return { kind: "failed", code: "budget_exceeded", message: `The answer reached the ${remaining} tokens left of the workspace's monthly budget`, usage: { ...used } };
      }
      if (answer.toolCalls.length === 0) {
        // 4. Output: the text, and its JSON checked against the agent's outputSchema.
        steps.next("completed", tokens, "output", { hasOutputSchema: config.outputSchema !== null });
        return finalAnswer(config, answer.text, used);
      }
      if (round > maxRounds) {
        return { kind: "failed", code: "tool_rounds_exceeded", message: `The model still asked for tools after ${maxRounds} rounds of tool calls`, usage: { ...used } };
      }
      const calls = answer.toolCalls;
      const results: ToolResult[] = [];
      // The step before each tool call is closed as its tool call opens: the model call, then each tool call.
      let closing: { status: ExecutionStep["status"]; detail: Record<string, unknown> } = { status: "completed", detail: { ...tokens, toolCalls: calls.map((call) => call.name) } };
      for (const [index, call] of calls.entries()) {
        steps.next(closing.status, closing.detail, "tool_call", { round, tool: call.name, callId: call.id });
        const toolContext = { workspaceId: ws, agentId: c.agentId, executionId: c.executionId, round, index, knowledgeBaseIds: config.knowledgeBaseIds, searchKnowledge, signal };
        const outcome = await inSpan(`execute_tool ${call.name}`, { traceparent: steps.stepTraceparent() }, { attributes: toolCallAttributes({ name: call.name, callId: call.id }) }, async (_tp, span) => {
          const result = await runTool(call, config.tools, toolContext, deps.tools);
          if (!result.ok) span.setAttribute("error.type", "tool_error");
          return result;
        });
        if (signal.aborted) throw signal.reason;
        closing = { status: outcome.ok ? "completed" : "failed", detail: outcome.detail };
        results.push({ callId: call.id, name: call.name, content: outcome.content, isError: !outcome.ok });
      }
      rounds.push({ text: answer.text, calls, results });
      steps.next(closing.status, closing.detail, "model_call", modelDetail(round + 1));
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
    if (error instanceof ModelCallError) return { kind: "failed", code: error.code, message: error.message, usage: { ...used }, ...(error.cause === undefined ? {} : { cause: error.cause }) };
    // Identity could not say whether the workspace has its own provider key: not the execution's fault.
    if (error instanceof UnavailableError) return { kind: "unavailable", error };
    throw error;
  } finally {
    clearTimeout(timer);
    link.release();
    steps.end();
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
