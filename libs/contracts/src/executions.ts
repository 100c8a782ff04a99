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
