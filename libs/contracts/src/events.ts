import { z } from "zod";
import { Agent, AgentStatus } from "./agents";
import { ClaimActor } from "./claims";
import { ProviderCredentialDeleted, ProviderCredentialUpdated } from "./credentials";
import { Execution } from "./executions";
import { IsoDateTime, Uuid, WorkspaceId } from "./ids";
import { Workspace } from "./identity";
import { UserCreated, UserDeleted, UserLinked, UserUpdated } from "./oidc";
import { SigningKeyRevoked, SigningKeyRotated, SystemAdminGranted } from "./operators";
import { Permissions, Role } from "./roles";

export const EventActor = z.object({ type: ClaimActor, id: z.string().min(1) });
export type EventActor = z.infer<typeof EventActor>;

/** Every event's payload (CONTRACT §3); `data` is parsed against the catalog entry. */
export const EventEnvelope = z.object({
  id: Uuid,
  type: z.string().regex(/^[a-z_]+(\.[a-z_]+)+$/),
  occurredAt: IsoDateTime,
  workspaceId: WorkspaceId,
  actor: EventActor,
  data: z.unknown(),
});
export type EventEnvelope = z.infer<typeof EventEnvelope>;

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

export const ExecutionQueued = z.object({ execution: Execution });
export type ExecutionQueued = z.infer<typeof ExecutionQueued>;

export const ExecutionStarted = z.object({ executionId: Uuid, agentId: Uuid, agentVersion: z.number().int(), startedAt: IsoDateTime });
export type ExecutionStarted = z.infer<typeof ExecutionStarted>;

export const ExecutionFinished = z.object({ execution: Execution });
export type ExecutionFinished = z.infer<typeof ExecutionFinished>;

export interface ResourceRef {
  type: string;
  id: string | null;
}

export interface Changes {
  before: unknown;
  after: unknown;
}

interface CatalogEntry<S extends z.ZodType> {
  schemaVersion: number;
  data: S;
  /** The resource an audit entry of this event is about. */
  resource: (data: z.infer<S>) => ResourceRef;
  /** What changed, for the audit entry (secrets are redacted by the audit service). */
  changes: (data: z.infer<S>) => Changes | null;
}

function entry<S extends z.ZodType>(e: CatalogEntry<S>): CatalogEntry<S> {
  return e;
}

/**
 * Every event type Galaxy publishes: its schema, schema version, and how the audit log
 * reads it. Publishers and consumers both import this, so subject and payload cannot drift.
 */
export const EVENT_CATALOG = {
  "workspace.created": entry({
    schemaVersion: 1,
    data: WorkspaceCreated,
    resource: (d) => ({ type: "workspace", id: d.workspace.id }),
    changes: (d) => ({ before: null, after: d.workspace }),
  }),
  "member.added": entry({
    schemaVersion: 1,
    data: MemberAdded,
    resource: (d) => ({ type: "member", id: d.userId }),
    changes: (d) => ({ before: null, after: { userId: d.userId, email: d.email, role: d.role } }),
  }),
  "member.role_changed": entry({
    schemaVersion: 1,
    data: MemberRoleChanged,
    resource: (d) => ({ type: "member", id: d.userId }),
    changes: (d) => ({ before: { role: d.before, permissions: d.permissionsBefore }, after: { role: d.role, permissions: d.permissions } }),
  }),
  "member.removed": entry({
    schemaVersion: 1,
    data: MemberRemoved,
    resource: (d) => ({ type: "member", id: d.userId }),
    changes: (d) => ({ before: { userId: d.userId, role: d.role }, after: null }),
  }),
  "workspace.updated": entry({
    schemaVersion: 1,
    data: WorkspaceUpdated,
    resource: (d) => ({ type: "workspace", id: d.workspace.id }),
    changes: (d) => ({ before: d.before, after: d.workspace }),
  }),
  "api_key.created": entry({
    schemaVersion: 1,
    data: ApiKeyCreated,
    resource: (d) => ({ type: "api_key", id: d.keyInfo.id }),
    changes: (d) => ({ before: null, after: d.keyInfo }),
  }),
  "api_key.revoked": entry({
    schemaVersion: 1,
    data: ApiKeyRevoked,
    resource: (d) => ({ type: "api_key", id: d.apiKeyId }),
    changes: () => ({ before: { revoked: false }, after: { revoked: true } }),
  }),
  "provider_credential.updated": entry({
    schemaVersion: 1,
    data: ProviderCredentialUpdated,
    resource: (d) => ({ type: "provider_credential", id: d.provider }),
    changes: (d) => ({ before: null, after: { provider: d.provider, last4: d.last4, baseUrl: d.baseUrl } }),
  }),
  "provider_credential.deleted": entry({
    schemaVersion: 1,
    data: ProviderCredentialDeleted,
    resource: (d) => ({ type: "provider_credential", id: d.provider }),
    changes: (d) => ({ before: { provider: d.provider }, after: null }),
  }),
  // Operator actions: system-workspace events (CONTRACT §3), signed with an operator claim.
  "user.system_admin_granted": entry({
    schemaVersion: 1,
    data: SystemAdminGranted,
    resource: (d) => ({ type: "user", id: d.userId }),
    changes: (d) => ({ before: { systemAdmin: false }, after: { systemAdmin: true, email: d.email } }),
  }),
  "signing_key.rotated": entry({
    schemaVersion: 1,
    data: SigningKeyRotated,
    resource: (d) => ({ type: "signing_key", id: d.kid }),
    changes: (d) => ({ before: { activeKid: d.previousKid }, after: { activeKid: d.kid, activatesAt: d.activatesAt } }),
  }),
  "signing_key.revoked": entry({
    schemaVersion: 1,
    data: SigningKeyRevoked,
    resource: (d) => ({ type: "signing_key", id: d.kid }),
    changes: () => ({ before: { revoked: false }, after: { revoked: true } }),
  }),
  "security.cross_workspace_attempt": entry({
    schemaVersion: 1,
    data: CrossWorkspaceAttempt,
    resource: (d) => ({ type: d.targetType, id: d.targetId }),
    changes: () => null,
  }),
  "security.forged_message": entry({
    schemaVersion: 1,
    data: ForgedMessage,
    resource: (d) => ({ type: "message", id: d.messageId ?? d.subject }),
    changes: () => null,
  }),
  "agent.created": entry({
    schemaVersion: 1,
    data: AgentCreated,
    resource: (d) => ({ type: "agent", id: d.agent.id }),
    changes: (d) => ({ before: null, after: d.agent }),
  }),
  "agent.activated": entry({
    schemaVersion: 1,
    data: AgentActivated,
    resource: (d) => ({ type: "agent", id: d.agentId }),
    changes: (d) => ({ before: { status: d.before }, after: { status: d.status } }),
  }),
  "execution.queued": entry({
    schemaVersion: 1,
    data: ExecutionQueued,
    resource: (d) => ({ type: "execution", id: d.execution.id }),
    changes: (d) => ({ before: null, after: { status: d.execution.status, agentId: d.execution.agentId, agentVersion: d.execution.agentVersion, trigger: d.execution.trigger } }),
  }),
  "execution.started": entry({
    schemaVersion: 1,
    data: ExecutionStarted,
    resource: (d) => ({ type: "execution", id: d.executionId }),
    changes: () => ({ before: { status: "queued" }, after: { status: "running" } }),
  }),
  "execution.completed": entry({
    schemaVersion: 1,
    data: ExecutionFinished,
    resource: (d) => ({ type: "execution", id: d.execution.id }),
    changes: (d) => ({ before: { status: "running" }, after: { status: d.execution.status, usage: d.execution.usage, durationMs: d.execution.durationMs } }),
  }),
  "execution.failed": entry({
    schemaVersion: 1,
    data: ExecutionFinished,
    resource: (d) => ({ type: "execution", id: d.execution.id }),
    changes: (d) => ({ before: { status: "running" }, after: { status: d.execution.status, error: d.execution.error } }),
  }),
  // User sync from an external identity provider: system-workspace events (CONTRACT §3).
  "user.created": entry({
    schemaVersion: 1,
    data: UserCreated,
    resource: (d) => ({ type: "user", id: d.userId }),
    changes: (d) => ({ before: null, after: { email: d.email, name: d.name, external: d.external } }),
  }),
  "user.linked": entry({
    schemaVersion: 1,
    data: UserLinked,
    resource: (d) => ({ type: "user", id: d.userId }),
    changes: (d) => ({ before: null, after: { external: d.external } }),
  }),
  "user.updated": entry({
    schemaVersion: 1,
    data: UserUpdated,
    resource: (d) => ({ type: "user", id: d.userId }),
    changes: (d) => ({ before: d.before, after: { email: d.email, name: d.name } }),
  }),
  "user.deleted": entry({
    schemaVersion: 1,
    data: UserDeleted,
    resource: (d) => ({ type: "user", id: d.userId }),
    changes: () => ({ before: { deleted: false }, after: { deleted: true } }),
  }),
} as const;

export type EventCatalog = typeof EVENT_CATALOG;
export type EventType = keyof EventCatalog;
export type EventData<T extends EventType> = z.infer<EventCatalog[T]["data"]>;
export const EVENT_TYPES = Object.keys(EVENT_CATALOG) as EventType[];

export function isEventType(type: string): type is EventType {
  return Object.hasOwn(EVENT_CATALOG, type);
}

/** A parsed event whose `data` matches its type. */
export type TypedEvent<T extends EventType = EventType> = {
  [K in T]: Omit<EventEnvelope, "type" | "data"> & { type: K; data: EventData<K> };
}[T];

/** The subject an event is published on, before any bus prefix: `evt.<ws>.<resource>.<verb>`. */
export function eventSubject(workspaceId: string, type: string): string {
  return `evt.${workspaceId}.${type}`;
}

/** Reads `evt.<ws>.<type…>` back into its workspace and type (prefix already removed). */
export function parseEventSubject(subject: string): { workspaceId: string; type: string } | null {
  const parts = subject.split(".");
  if (parts.length < 4 || parts[0] !== "evt") return null;
  const workspaceId = parts[1];
  if (workspaceId === undefined || !WorkspaceId.safeParse(workspaceId).success) return null;
  return { workspaceId, type: parts.slice(2).join(".") };
}

/** Parses an event envelope and its data against the catalog. */
export function parseEvent(value: unknown): { ok: true; event: TypedEvent } | { ok: false; error: string } {
  const envelope = EventEnvelope.safeParse(value);
  if (!envelope.success) return { ok: false, error: `bad envelope: ${z.prettifyError(envelope.error)}` };
  const type = envelope.data.type;
  if (!isEventType(type)) return { ok: false, error: `unknown event type ${type}` };
  const data = EVENT_CATALOG[type].data.safeParse(envelope.data.data);
  if (!data.success) return { ok: false, error: `bad ${type} data: ${z.prettifyError(data.error)}` };
  // The catalog lookup above guarantees data matches type; TS cannot correlate the two.
  return { ok: true, event: { ...envelope.data, type, data: data.data } as TypedEvent };
}
