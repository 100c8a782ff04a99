import { z } from "zod";
import type { WorkspaceClaim } from "./claims";
import { ForbiddenError } from "./errors";
import { IsoDateTime, SYSTEM_WORKSPACE_ID, Uuid, WorkspaceId } from "./ids";
import { CursorPageQuery } from "./pagination";

/**
 * Operator replay and dead letters (docs/replay.md). Audit runs and records replays and keeps the
 * dead-letter index; each service that keeps a projection serves its part (apply, reset,
 * release, redrive) to audit alone.
 */

/**
 * The projections services declare, and which durable consumer keeps each: a replay targets
 * one of them, and only what that consumer's filter takes reaches it. Primary data (an agent
 * in the registry) is never a projection.
 */
export const PROJECTIONS = {
  audit: { service: "audit", consumer: "audit", filter: "evt.>", description: "the audit log (audit.audit_logs), one hash chain per workspace" },
  "execution-worker.agent-versions": {
    service: "execution",
    consumer: "execution-worker-agents",
    filter: "evt.*.agent.>",
    description: "the worker's copy of agents and their versions, which executions pin",
  },
} as const;
export type ProjectionName = keyof typeof PROJECTIONS;
export const ProjectionName = z.enum(Object.keys(PROJECTIONS) as [ProjectionName, ...ProjectionName[]]);

/**
 * Which service each durable consumer belongs to: a dead letter goes back there. A new
 * consumer needs its line here, and its service must serve `svc.<service>.dlq.redrive`.
 */
export const CONSUMER_SERVICES: Readonly<Record<string, "audit" | "execution" | "registry">> = {
  audit: "audit",
  "agent-registry-documents": "registry",
  "execution-worker-agents": "execution",
  "execution-worker-webhooks": "execution",
  "execution-worker-callbacks": "execution",
};

/** The service whose claim alone may drive a projection's replay requests and a consumer's redrives: audit runs and records them. */
export const REPLAY_RUNNER = "audit";

/**
 * Refuses (403 `replay_runner_required`) anything but audit's service claim of the system
 * workspace: how a service guards its `svc.<service>.replay.*` and `svc.<service>.dlq.redrive`.
 */
export function requireReplayRunner(claim: WorkspaceClaim | null): void {
  if (!claim || claim.act !== "service" || claim.sub !== REPLAY_RUNNER || claim.ws !== SYSTEM_WORKSPACE_ID) {
    throw new ForbiddenError("Only audit, which runs operator replays and redrives, may ask", "replay_runner_required");
  }
}

/** One NATS subject filter under `evt.`: tokens of letters, digits, `_`, `-`, or `*`, optionally ending in `>`. */
export const EventSubjectFilter = z
  .string()
  .max(300)
  .regex(/^evt(\.([A-Za-z0-9_-]+|\*))*(\.>)?$/, "must be an event subject filter such as evt.> or evt.<workspaceId>.agent.>");

export const ReplayStatus = z.enum(["running", "completed", "failed", "cancelled"]);
export type ReplayStatus = z.infer<typeof ReplayStatus>;

/** `POST /api/admin/replays` and `galaxy replay` (docs/replay.md). */
export const StartReplayBody = z
  .object({
    target: ProjectionName,
    subject: EventSubjectFilter.optional(),
    workspaceId: WorkspaceId.optional(),
    since: IsoDateTime.optional(),
    until: IsoDateTime.optional(),
    fromSeq: z.number().int().min(1).optional(),
    toSeq: z.number().int().min(1).optional(),
    dryRun: z.boolean().default(false),
    ratePerSec: z.number().int().min(1).max(1_000_000).optional(),
    reset: z.boolean().default(false),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (body.since !== undefined && body.fromSeq !== undefined) ctx.addIssue({ code: "custom", path: ["fromSeq"], message: "give since or fromSeq, not both" });
    if (body.until !== undefined && body.toSeq !== undefined) ctx.addIssue({ code: "custom", path: ["toSeq"], message: "give until or toSeq, not both" });
    if (body.fromSeq !== undefined && body.toSeq !== undefined && body.toSeq < body.fromSeq) ctx.addIssue({ code: "custom", path: ["toSeq"], message: "must not be below fromSeq" });
    if (body.since !== undefined && body.until !== undefined && body.until < body.since) ctx.addIssue({ code: "custom", path: ["until"], message: "must not be before since" });
    if (body.reset && body.workspaceId === undefined) ctx.addIssue({ code: "custom", path: ["workspaceId"], message: "reset drops one workspace's projection: name the workspace" });
    if (body.reset && (body.since !== undefined || body.fromSeq !== undefined || body.subject !== undefined)) {
      ctx.addIssue({ code: "custom", path: ["reset"], message: "reset rebuilds from the start of the stream: give no since, fromSeq or subject" });
    }
    // The whole projection of the workspace is dropped: rebuilding only a prefix of it would lose the rest.
    if (body.reset && (body.until !== undefined || body.toSeq !== undefined)) {
      ctx.addIssue({ code: "custom", path: ["reset"], message: "reset drops the workspace's whole projection and rebuilds it to the end of the stream: give no until or toSeq" });
    }
    if (body.workspaceId !== undefined && body.subject !== undefined && !body.subject.startsWith(`evt.${body.workspaceId}.`)) {
      ctx.addIssue({ code: "custom", path: ["subject"], message: "must start with evt.<workspaceId>. when workspaceId is given" });
    }
  });
export type StartReplayBody = z.infer<typeof StartReplayBody>;

/** A replay as operators see it, with its progress. */
export const ReplayRun = z.object({
  id: Uuid,
  status: ReplayStatus,
  target: ProjectionName,
  /** The one subject filter read (the workspace narrows `evt.>` to `evt.<workspaceId>.>`). */
  subject: z.string(),
  workspaceId: WorkspaceId.nullable(),
  since: IsoDateTime.nullable(),
  until: IsoDateTime.nullable(),
  fromSeq: z.number().int().nullable(),
  toSeq: z.number().int().nullable(),
  /** The last stream sequence read: `toSeq`, or the stream's last sequence when the replay started. */
  endSeq: z.number().int().nullable(),
  dryRun: z.boolean(),
  reset: z.boolean(),
  ratePerSec: z.number().int().nullable(),
  /** Messages read that match the filter and the bounds. */
  matched: z.number().int(),
  /** Handed to the target and accepted (the target changes nothing for what it already had). */
  applied: z.number().int(),
  /** Matched but not handed over: outside the target's own filter, or every message of a dry run. */
  skipped: z.number().int(),
  /** Refused by the target (e.g. a claim whose key was revoked): each is a dead letter of the target's consumer. */
  failed: z.number().int(),
  /** Messages per second so far, and the seconds left at that rate (null until known). */
  rate: z.number(),
  etaSeconds: z.number().nullable(),
  lastSeq: z.number().int().nullable(),
  error: z.string().nullable(),
  requestedBy: z.string(),
  createdAt: IsoDateTime,
  startedAt: IsoDateTime,
  finishedAt: IsoDateTime.nullable(),
});
export type ReplayRun = z.infer<typeof ReplayRun>;

export const ReplayAccepted = z.object({ id: Uuid, status: ReplayStatus });
export type ReplayAccepted = z.infer<typeof ReplayAccepted>;

export const ReplayRef = z.object({ id: Uuid }).strict();
export type ReplayRef = z.infer<typeof ReplayRef>;

export const ReplayListQuery = CursorPageQuery.extend({ status: ReplayStatus.optional(), target: ProjectionName.optional() });
export type ReplayListQuery = z.infer<typeof ReplayListQuery>;

/** A message as it sits in a stream, carried in a request: headers as NATS has them, payload in base64. */
export const RawBusMessage = z.object({
  subject: z.string().min(1).max(1000),
  seq: z.number().int().min(1),
  headers: z.record(z.string(), z.array(z.string())),
  data: z.base64(),
});
export type RawBusMessage = z.infer<typeof RawBusMessage>;

/** The most messages one `replay.apply` request carries: audit splits a larger batch into several, in order. */
export const REPLAY_APPLY_MAX_MESSAGES = 500;

/** Audit asks a target service to apply replayed messages, in order, to one projection's consumer. */
export const ReplayApplyRequest = z.object({ replayId: Uuid, consumer: z.string().min(1).max(100), messages: z.array(RawBusMessage).min(1).max(REPLAY_APPLY_MAX_MESSAGES) }).strict();
export type ReplayApplyRequest = z.infer<typeof ReplayApplyRequest>;
export const ReplayApplyResult = z.object({ applied: z.number().int(), failed: z.array(z.object({ seq: z.number().int(), error: z.string() })) });
export type ReplayApplyResult = z.infer<typeof ReplayApplyResult>;

/** Drop (reset) or release (apply what waited, then let live events through) one workspace's part of a projection. */
export const ReplayWorkspaceRequest = z.object({ replayId: Uuid, consumer: z.string().min(1).max(100), workspaceId: WorkspaceId }).strict();
export type ReplayWorkspaceRequest = z.infer<typeof ReplayWorkspaceRequest>;
export const ReplayResetResult = z.object({ dropped: z.number().int() });
export type ReplayResetResult = z.infer<typeof ReplayResetResult>;
export const ReplayReleaseResult = z.object({ applied: z.number().int() });
export type ReplayReleaseResult = z.infer<typeof ReplayReleaseResult>;

/** Audit hands a dead letter back to the consumer that failed it. */
export const RedriveMessageRequest = z.object({ consumer: z.string().min(1).max(100), message: RawBusMessage }).strict();
export type RedriveMessageRequest = z.infer<typeof RedriveMessageRequest>;
export const RedriveOutcome = z.enum(["applied", "failed"]);
export type RedriveOutcome = z.infer<typeof RedriveOutcome>;
export const RedriveMessageResult = z.object({ outcome: RedriveOutcome, error: z.string().nullable() });
export type RedriveMessageResult = z.infer<typeof RedriveMessageResult>;

/** A dead letter: what a consumer could not apply, why, and after how many deliveries. */
export const DeadLetter = z.object({
  /** Its sequence in `DEAD_LETTERS`. */
  id: z.number().int(),
  consumer: z.string(),
  subject: z.string(),
  workspaceId: z.string().nullable(),
  eventId: z.string().nullable(),
  eventType: z.string().nullable(),
  error: z.string(),
  deliveries: z.number().int(),
  failedAt: IsoDateTime,
  headers: z.record(z.string(), z.string()),
  /** The payload as JSON, or as text when it is not JSON. */
  payload: z.unknown(),
  redrive: z.object({ outcome: RedriveOutcome, error: z.string().nullable(), at: IsoDateTime, by: z.string() }).nullable(),
});
export type DeadLetter = z.infer<typeof DeadLetter>;

export const DeadLetterQuery = CursorPageQuery.extend({
  consumer: z.string().min(1).max(100).optional(),
  /** The original subject, exactly. */
  subject: z.string().min(1).max(1000).optional(),
  /** Only dead letters not (true: only those already) redriven. */
  redriven: z.union([z.boolean(), z.stringbool()]).optional(),
});
export type DeadLetterQuery = z.infer<typeof DeadLetterQuery>;

export const DeadLetterRef = z.object({ id: z.coerce.number().int().min(1) }).strict();
export type DeadLetterRef = z.infer<typeof DeadLetterRef>;

/** `galaxy dlq redrive --consumer … [--subject …]`: every dead letter of that consumer (and subject) not redriven yet. */
export const RedriveManyRequest = z.object({ consumer: z.string().min(1).max(100), subject: z.string().min(1).max(1000).optional() }).strict();
export type RedriveManyRequest = z.infer<typeof RedriveManyRequest>;

export const DeadLetterRedrive = z.object({ id: z.number().int(), outcome: RedriveOutcome, error: z.string().nullable() });
export type DeadLetterRedrive = z.infer<typeof DeadLetterRedrive>;
export const DeadLetterRedrives = z.object({ redriven: z.array(DeadLetterRedrive) });
export type DeadLetterRedrives = z.infer<typeof DeadLetterRedrives>;

/** `replay.started`, in the system workspace. */
export const ReplayStarted = z.object({
  replayId: Uuid,
  target: ProjectionName,
  subject: z.string(),
  workspaceId: WorkspaceId.nullable(),
  fromSeq: z.number().int().nullable(),
  endSeq: z.number().int().nullable(),
  dryRun: z.boolean(),
  reset: z.boolean(),
});
export type ReplayStarted = z.infer<typeof ReplayStarted>;

/** `replay.completed`, in the system workspace, whatever the outcome (`status`). */
export const ReplayCompleted = z.object({
  replayId: Uuid,
  target: ProjectionName,
  status: ReplayStatus,
  matched: z.number().int(),
  applied: z.number().int(),
  skipped: z.number().int(),
  failed: z.number().int(),
  error: z.string().nullable(),
});
export type ReplayCompleted = z.infer<typeof ReplayCompleted>;

/** `dead_letter.redriven`, in the system workspace. */
export const DeadLetterRedriven = z.object({ deadLetterId: z.number().int(), consumer: z.string(), subject: z.string(), outcome: RedriveOutcome });
export type DeadLetterRedriven = z.infer<typeof DeadLetterRedriven>;

/**
 * `galaxy executions rerun`: failed (or timed-out, cancelled) executions of one agent started
 * again as new executions, `trigger: {type: "replay", id: <original>}`. One already re-run is
 * not re-run again. `dryRun` counts them and starts nothing.
 */
export const RerunExecutionsRequest = z
  .object({
    agentId: Uuid,
    status: z.enum(["failed", "timed_out", "cancelled"]).default("failed"),
    since: IsoDateTime,
    until: IsoDateTime.optional(),
    dryRun: z.boolean().default(false),
    limit: z.number().int().min(1).max(1_000).default(100),
  })
  .strict();
export type RerunExecutionsRequest = z.infer<typeof RerunExecutionsRequest>;

export const RerunExecutionsResult = z.object({
  /** The agent's workspace, or null when the worker does not know the agent. */
  workspaceId: WorkspaceId.nullable(),
  /** Executions matching the filters that were not re-run before. */
  matched: z.number().int(),
  /** Matching executions skipped because a re-run of them exists already. */
  alreadyRerun: z.number().int(),
  started: z.array(z.object({ originalId: Uuid, executionId: Uuid })),
  failed: z.array(z.object({ originalId: Uuid, code: z.string(), message: z.string() })),
  dryRun: z.boolean(),
});
export type RerunExecutionsResult = z.infer<typeof RerunExecutionsResult>;
