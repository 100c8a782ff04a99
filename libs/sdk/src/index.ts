export { Galaxy, ok } from "./client.js";
export type { GalaxyOptions, PageParams } from "./client.js";
export { GalaxyApiError } from "./errors.js";
export { executionEvents } from "./events.js";
export type { StreamItem, StreamOptions } from "./events.js";
export type { RetryPolicy } from "./retry.js";
export { signWebhook, verifyCompletionCallback, WebhookVerificationError } from "./webhooks.js";
export type { WebhookHeaders } from "./webhooks.js";
export { TERMINAL_EVENT_TYPES, TERMINAL_STATUSES } from "./types.js";
export type {
  Agent, AuditEntry, AuditVerification, CompletionCallback, CreatedTrigger, ErrorBody, Execution, ExecutionDelta, ExecutionEvent, ExecutionStatus, KnowledgeBase,
  Pagination, SavedAgent, Trigger,
} from "./types.js";
export type { components, operations, paths, webhooks } from "./generated/openapi.js";
