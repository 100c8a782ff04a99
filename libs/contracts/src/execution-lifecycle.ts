import { z } from "zod";
import { EventEnvelope, type EventType, type TypedEvent } from "./events";
import { ExecutionStatus, TriggerType } from "./executions";
import { IsoDateTime, Uuid } from "./ids";
import { CursorPageQuery } from "./pagination";

/**
 * `GET /api/executions?status=&agentId=&triggerType=&createdAfter=&createdBefore=`: filters of
 * the workspace's executions, newest first. The time range is of `createdAt`, `createdAfter`
 * included and `createdBefore` excluded (docs/api.md, Executions).
 */
export const ExecutionListQuery = z.object({
  status: ExecutionStatus.optional(),
  agentId: Uuid.optional(),
  triggerType: TriggerType.optional().describe("What started the execution"),
  createdAfter: IsoDateTime.optional().describe("Executions created at or after this time (ISO 8601 with offset)"),
  createdBefore: IsoDateTime.optional().describe("Executions created before this time (ISO 8601 with offset)"),
});
export type ExecutionListQuery = z.infer<typeof ExecutionListQuery>;

/** `execution.list`: a page of the workspace's executions, newest first. */
export const ListExecutionsRequest = CursorPageQuery.extend(ExecutionListQuery.shape).strict();
export type ListExecutionsRequest = z.infer<typeof ListExecutionsRequest>;

/** `execution.cancel`: the reply is the execution as the cancel left it (`cancelled`, or still `running` while it stops). */
export const CancelExecutionRequest = z.object({ id: Uuid }).strict();
export type CancelExecutionRequest = z.infer<typeof CancelExecutionRequest>;

/** The most stored events one `execution.events.list` answers. */
export const MAX_EVENTS_PAGE = 500;

/** `execution.events.list`: an execution's stored events after `afterSeq` (the SSE stream's replay). */
export const ExecutionEventsRequest = z
  .object({ id: Uuid, afterSeq: z.number().int().min(0).default(0), limit: z.number().int().min(1).max(MAX_EVENTS_PAGE).default(200) })
  .strict();
export type ExecutionEventsRequest = z.infer<typeof ExecutionEventsRequest>;

/** One stored event of an execution: its seq within the execution, its type, and the event as published. */
export const StoredExecutionEvent = z.object({ seq: z.number().int().min(1), type: z.string(), event: EventEnvelope });
export type StoredExecutionEvent = z.infer<typeof StoredExecutionEvent>;

export const ExecutionEventsReply = z.object({ items: z.array(StoredExecutionEvent), status: ExecutionStatus });
export type ExecutionEventsReply = z.infer<typeof ExecutionEventsReply>;

/** The events that end an execution (`execution.failed` also for a run that timed out). */
export const TERMINAL_EXECUTION_EVENTS = ["execution.completed", "execution.failed", "execution.cancelled"] as const satisfies readonly EventType[];
/** The event types after which an execution's stream ends. */
export const TERMINAL_EVENT_TYPES: ReadonlySet<string> = new Set(TERMINAL_EXECUTION_EVENTS);
/** An event that ends an execution. */
export type TerminalExecutionEvent = Extract<TypedEvent, { type: (typeof TERMINAL_EXECUTION_EVENTS)[number] }>;

export function isTerminalExecutionEvent(event: TypedEvent): event is TerminalExecutionEvent {
  return TERMINAL_EVENT_TYPES.has(event.type);
}

/**
 * Core NATS `sig.execution.cancel` (not stored): asks whichever worker instance runs the
 * execution to abort it. The cancel request already recorded it, so a lost signal only delays
 * the stop until the instance's next check.
 */
export const CancelSignal = z.object({ executionId: Uuid, workspaceId: Uuid });
export type CancelSignal = z.infer<typeof CancelSignal>;

/** The most ids one `execution.statuses` asks about: a webhook trigger's delivery log lists at most 200. */
export const MAX_STATUS_IDS = 200;

/** `execution.statuses`: the statuses of some of the workspace's executions, without their inputs and outputs. */
export const ExecutionStatusesRequest = z.object({ ids: z.array(Uuid).max(MAX_STATUS_IDS) }).strict();
export type ExecutionStatusesRequest = z.infer<typeof ExecutionStatusesRequest>;

/** The executions found among the ids, in no order; an id that is not one of the workspace's is absent. */
export const ExecutionStatusesReply = z.object({ statuses: z.array(z.object({ id: Uuid, status: ExecutionStatus })) });
export type ExecutionStatusesReply = z.infer<typeof ExecutionStatusesReply>;
