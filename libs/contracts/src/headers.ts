import { z } from "zod";
import { WorkspaceId } from "./ids";

/** Header names of every Galaxy bus message (docs/bus.md). */
export const HEADER = {
  workspaceId: "Gx-Workspace-Id",
  claim: "Gx-Claim",
  msgId: "Nats-Msg-Id",
  traceparent: "traceparent",
  tracestate: "tracestate",
  correlationId: "Gx-Correlation-Id",
  causationId: "Gx-Causation-Id",
  eventType: "Gx-Event-Type",
  schemaVersion: "Gx-Schema-Version",
  replayId: "Gx-Replay-Id",
  /** Where the originating HTTP request came from; the audit log records them. */
  clientIp: "Gx-Client-Ip",
  userAgent: "Gx-User-Agent",
  /** `gzip` on a message too large for NATS as plain JSON (docs/bus.md, "Large messages"). */
  contentEncoding: "Gx-Content-Encoding",
  /** Dead letters only: who failed the message, why, after how many deliveries. */
  dlqConsumer: "Gx-Dlq-Consumer",
  dlqError: "Gx-Dlq-Error",
  dlqDeliveries: "Gx-Dlq-Deliveries",
  dlqSubject: "Gx-Dlq-Subject",
} as const;

const Traceparent = z.string().regex(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/, "must be a W3C traceparent");

/** What the headers of an event in `EVENTS` must hold. */
export const EventHeaders = z.object({
  workspaceId: WorkspaceId,
  claim: z.string().min(1),
  msgId: z.string().min(1),
  traceparent: Traceparent,
  tracestate: z.string().optional(),
  correlationId: z.string().min(1),
  causationId: z.string().min(1),
  eventType: z.string().min(1),
  schemaVersion: z.string().regex(/^\d+$/),
  replayId: z.string().optional(),
  clientIp: z.string().optional(),
  userAgent: z.string().optional(),
});
export type EventHeaders = z.infer<typeof EventHeaders>;

/** The request context that travels with a `svc.*` request and into the events it causes. */
export const RequestContext = z.object({
  claim: z.string().min(1).optional(),
  workspaceId: WorkspaceId.optional(),
  traceparent: Traceparent.optional(),
  tracestate: z.string().optional(),
  correlationId: z.string().min(1),
  causationId: z.string().min(1).optional(),
  clientIp: z.string().optional(),
  userAgent: z.string().optional(),
});
export type RequestContext = z.infer<typeof RequestContext>;
