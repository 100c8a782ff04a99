import { z } from "zod";
import { Agent, AgentStatus } from "./agents";
import { Execution, ExecutionStep } from "./executions";
import { IsoDateTime, Uuid } from "./ids";
import { Workspace } from "./identity";
import { Permissions, Role } from "./roles";
import { ClaimActor } from "./claims";

// The payloads of the identity, agent and execution events the catalog in events.ts names.

/** Who an event says acted: a user, an API key, a service, or the system. */
export const EventActor = z.object({ type: ClaimActor, id: z.string().min(1) });
export type EventActor = z.infer<typeof EventActor>;

export const WorkspaceCreated = z.object({ workspace: Workspace, ownerId: Uuid });
export type WorkspaceCreated = z.infer<typeof WorkspaceCreated>;

export const MemberAdded = z.object({ userId: Uuid, email: z.string(), role: Role });
export type MemberAdded = z.infer<typeof MemberAdded>;

export const MemberRoleChanged = z.object({ userId: Uuid, role: Role, before: Role, permissions: Permissions, permissionsBefore: Permissions });
export type MemberRoleChanged = z.infer<typeof MemberRoleChanged>;

export const MemberRemoved = z.object({ userId: Uuid, role: Role });
export type MemberRemoved = z.infer<typeof MemberRemoved>;

export const WorkspaceUpdated = z.object({ workspace: Workspace, before: Workspace, settings: z.record(z.string(), z.unknown()).optional() });
export type WorkspaceUpdated = z.infer<typeof WorkspaceUpdated>;

/** An API key as events and lists show it: never the key itself, nor its hash. */
export const ApiKeyInfo = z.object({
  id: Uuid,
  name: z.string(),
  role: Role,
  prefix: z.string(),
  createdBy: Uuid,
  createdAt: IsoDateTime,
  expiresAt: IsoDateTime.nullable(),
});
export type ApiKeyInfo = z.infer<typeof ApiKeyInfo>;

export const ApiKeyCreated = z.object({ keyInfo: ApiKeyInfo });
export type ApiKeyCreated = z.infer<typeof ApiKeyCreated>;

export const ApiKeyRevoked = z.object({ apiKeyId: Uuid, prefix: z.string() });
export type ApiKeyRevoked = z.infer<typeof ApiKeyRevoked>;

/** Someone asked for a resource of another workspace by id; they were told it does not exist. */
export const CrossWorkspaceAttempt = z.object({
  actor: EventActor,
  targetType: z.string(),
  targetId: z.string(),
  operation: z.string(),
  ipAddress: z.string().nullable(),
  userAgent: z.string().nullable(),
});
export type CrossWorkspaceAttempt = z.infer<typeof CrossWorkspaceAttempt>;

/** A message failed its claim checks and was dead-lettered instead of applied. */
export const ForgedMessage = z.object({
  consumer: z.string(),
  subject: z.string(),
  reason: z.string(),
  messageId: z.string().nullable(),
  claimedWorkspaceId: z.string().nullable(),
});
export type ForgedMessage = z.infer<typeof ForgedMessage>;

export const AgentCreated = z.object({ agent: Agent });
export type AgentCreated = z.infer<typeof AgentCreated>;

export const AgentActivated = z.object({ agentId: Uuid, version: z.number().int().min(1), status: AgentStatus, before: AgentStatus });
export type AgentActivated = z.infer<typeof AgentActivated>;

/**
 * What every event of one execution carries: the execution's id and the event's place in it
 * (1, 2, 3… within the execution, no gaps), which is the SSE `id:` a client resumes from.
 */
export const ExecutionEventBase = z.object({ executionId: Uuid, seq: z.number().int().min(1) });
export type ExecutionEventBase = z.infer<typeof ExecutionEventBase>;

export const ExecutionQueued = ExecutionEventBase.extend({ execution: Execution });
export type ExecutionQueued = z.infer<typeof ExecutionQueued>;

export const ExecutionStarted = ExecutionEventBase.extend({ agentId: Uuid, agentVersion: z.number().int(), startedAt: IsoDateTime });
export type ExecutionStarted = z.infer<typeof ExecutionStarted>;

/** `execution.completed`, `execution.failed` (also `timed_out`) and `execution.cancelled`: the final record. */
export const ExecutionFinished = ExecutionEventBase.extend({ execution: Execution });
export type ExecutionFinished = z.infer<typeof ExecutionFinished>;

/** A step of the pipeline (context, model call, tool call, output) finished: the SSE stream's progress. */
export const ExecutionStepCompleted = ExecutionEventBase.extend({ step: ExecutionStep });
export type ExecutionStepCompleted = z.infer<typeof ExecutionStepCompleted>;
