import { z } from "zod";
import { IsoDateTime, Uuid, WorkspaceId } from "./ids";

export const EXECUTION_STATUSES = ["queued", "running", "completed", "failed", "cancelled", "timed_out"] as const;
export const ExecutionStatus = z.enum(EXECUTION_STATUSES);
export type ExecutionStatus = z.infer<typeof ExecutionStatus>;

export const TERMINAL_STATUSES: ReadonlySet<ExecutionStatus> = new Set(["completed", "failed", "cancelled", "timed_out"]);

export const TriggerType = z.enum(["manual", "webhook", "schedule", "replay"]);
export type TriggerType = z.infer<typeof TriggerType>;

export const ExecutionTrigger = z.object({ type: TriggerType, id: z.string().optional() });
export type ExecutionTrigger = z.infer<typeof ExecutionTrigger>;

export const ExecutionOutput = z.object({ text: z.string(), json: z.unknown().optional() });
export type ExecutionOutput = z.infer<typeof ExecutionOutput>;

export const ExecutionError = z.object({ code: z.string(), message: z.string() });
export type ExecutionError = z.infer<typeof ExecutionError>;

export const Usage = z.object({
  inputTokens: z.number().int().min(0),
  outputTokens: z.number().int().min(0),
  totalTokens: z.number().int().min(0),
  costUsd: z.number().min(0),
});
export type Usage = z.infer<typeof Usage>;

export const ZERO_USAGE: Usage = { inputTokens: 0, outputTokens: 0, totalTokens: 0, costUsd: 0 };

export const Execution = z.object({
  id: Uuid,
  workspaceId: WorkspaceId,
  agentId: Uuid,
  agentVersion: z.number().int().min(1),
  status: ExecutionStatus,
  trigger: ExecutionTrigger,
  input: z.unknown(),
  output: ExecutionOutput.nullable(),
  error: ExecutionError.nullable(),
  usage: Usage,
  durationMs: z.number().int().min(0).nullable(),
  createdAt: IsoDateTime,
  startedAt: IsoDateTime.nullable(),
  completedAt: IsoDateTime.nullable(),
});
export type Execution = z.infer<typeof Execution>;

export const StartExecutionBody = z.object({ input: z.unknown() }).strict();
export type StartExecutionBody = z.infer<typeof StartExecutionBody>;

/**
 * A token delta of a running execution's model call, on core NATS `live.<ws>.execution.<id>`
 * (not stored: a client that misses one still gets the whole text in `execution.completed`).
 * `index` counts the deltas of the execution from 0, across its model calls.
 */
export const ExecutionDelta = z.object({ executionId: Uuid, index: z.number().int().min(0), delta: z.string() });
export type ExecutionDelta = z.infer<typeof ExecutionDelta>;

export const STEP_NAMES = ["context", "model_call", "tool_call", "output"] as const;
export const StepName = z.enum(STEP_NAMES);
export type StepName = z.infer<typeof StepName>;

/** One finished step of an execution's pipeline, as `execution.step_completed` carries it. */
export const ExecutionStep = z.object({
  name: StepName,
  status: z.enum(["completed", "failed"]),
  startedAt: IsoDateTime,
  completedAt: IsoDateTime,
  durationMs: z.number().int().min(0),
  /** What the step did: for a tool call its tool, arguments and result (truncated); never a secret. */
  detail: z.record(z.string(), z.unknown()),
});
export type ExecutionStep = z.infer<typeof ExecutionStep>;
