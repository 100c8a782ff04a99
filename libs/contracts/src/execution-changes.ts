import { z } from "zod";
import { Execution, ExecutionStatus } from "./executions";
import { IsoDateTime, Uuid } from "./ids";

/** An execution as a list row shows it: no input, output or error (`GET /api/executions/{id}` has those). */
export const ExecutionSummary = Execution.pick({
  id: true, workspaceId: true, agentId: true, agentVersion: true, status: true, trigger: true, usage: true, durationMs: true, createdAt: true, startedAt: true, completedAt: true,
});
export type ExecutionSummary = z.infer<typeof ExecutionSummary>;

/** The event types the workspace's execution stream carries: every change of an execution's status. */
export const EXECUTION_CHANGE_TYPES = ["execution.queued", "execution.started", "execution.completed", "execution.failed", "execution.cancelled"] as const;
export const ExecutionChangeType = z.enum(EXECUTION_CHANGE_TYPES);
export type ExecutionChangeType = z.infer<typeof ExecutionChangeType>;

/**
 * One frame of `GET /api/executions/stream` (docs/api.md, The event stream): an execution of
 * the workspace changed status. `execution` is the row as it is now, except on
 * `execution.started`, whose event carries no row (`status` is then `running`).
 */
export const ExecutionChange = z.object({
  type: ExecutionChangeType,
  executionId: Uuid,
  agentId: Uuid,
  status: ExecutionStatus,
  occurredAt: IsoDateTime,
  execution: ExecutionSummary.nullable(),
});
export type ExecutionChange = z.infer<typeof ExecutionChange>;

/** `GET /api/executions/stream?agentId=`: changes of one agent's executions only. */
export const ExecutionChangesQuery = z.object({ agentId: Uuid.optional() });
export type ExecutionChangesQuery = z.infer<typeof ExecutionChangesQuery>;
