import type { components } from "./generated/openapi.js";

type Schemas = components["schemas"];

export type Agent = Schemas["Agent"];
export type SavedAgent = Schemas["SavedAgent"];
export type Execution = Schemas["Execution"];
export type ExecutionStatus = Execution["status"];
export type Trigger = Schemas["Trigger"];
export type CreatedTrigger = Schemas["CreatedTrigger"];
export type KnowledgeBase = Schemas["KnowledgeBase"];
export type AuditEntry = Schemas["AuditEntry"];
export type AuditVerification = Schemas["AuditVerification"];
export type Pagination = Schemas["Pagination"];
export type ErrorBody = Schemas["Error"];
/** An event of an execution's stream (`execution.queued`, `execution.step_completed`, `execution.completed`, …). */
export type ExecutionEvent = Schemas["Event"];
/** A token delta of a running model call: streamed, never stored, never resumed. */
export type ExecutionDelta = Schemas["ExecutionDelta"];
/** What Galaxy POSTs to an agent's `notifyUrl` when one of its executions ends. */
export type CompletionCallback = Schemas["CompletionCallback"];

/** The event types that end an execution's stream. */
export const TERMINAL_EVENT_TYPES: ReadonlySet<string> = new Set(["execution.completed", "execution.failed", "execution.cancelled"]);
/** The statuses an execution ends in. */
export const TERMINAL_STATUSES: ReadonlySet<ExecutionStatus> = new Set<ExecutionStatus>(["completed", "failed", "cancelled", "timed_out"]);
