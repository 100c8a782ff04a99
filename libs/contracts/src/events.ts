import { z } from "zod";
import { AgentConfig } from "./agents";
import { AgentDeleted, AgentPaused, AgentUpdated } from "./agent-lifecycle";
import { AuditRetentionApplied } from "./audit";
import { ProviderCredentialDeleted, ProviderCredentialUpdated } from "./credentials";
import { IsoDateTime, Uuid, WorkspaceId } from "./ids";
import { DocumentAdded, DocumentIndexed, KnowledgeBaseCreated } from "./knowledge";
import { UserCreated, UserDeleted, UserLinked, UserUpdated } from "./oidc";
import { SigningKeyRevoked, SigningKeyRotated, SystemAdminGranted } from "./operators";
import { DeadLetterRedriven, ReplayCompleted, ReplayStarted } from "./replay";
import { WorkspaceTierChanged } from "./tiers";
import { TriggerCreated, TriggerDeleted, TriggerSecretRotated, WebhookReceived } from "./triggers";
import {
  EventActor, WorkspaceCreated, MemberAdded, MemberRoleChanged, MemberRemoved, WorkspaceUpdated, ApiKeyInfo, ApiKeyCreated, ApiKeyRevoked, CrossWorkspaceAttempt, ForgedMessage, AgentCreated, AgentActivated, ExecutionEventBase, ExecutionQueued, ExecutionStarted, ExecutionFinished, ExecutionStepCompleted,
} from "./event-payloads";


/** Every event's payload (docs/bus.md); `data` is parsed against the catalog entry. */
export const EventEnvelope = z.object({
  id: Uuid,
  type: z.string().regex(/^[a-z_]+(\.[a-z_]+)+$/),
  occurredAt: IsoDateTime,
  workspaceId: WorkspaceId,
  actor: EventActor,
  data: z.unknown(),
});
export type EventEnvelope = z.infer<typeof EventEnvelope>;

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
  // An operator's change of what the workspace pays for (docs/executions.md), recorded in the workspace itself.
  "workspace.tier_changed": entry({
    schemaVersion: 1,
    data: WorkspaceTierChanged,
    resource: (d) => ({ type: "workspace", id: d.workspaceId }),
    changes: (d) => ({ before: { tier: d.before }, after: { tier: d.tier } }),
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
  // Operator actions: system-workspace events (docs/bus.md), signed with an operator claim.
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
  // A config change: the audit entry keeps both configs (the audit service strips secret fields).
  "agent.updated": entry({
    schemaVersion: 1,
    data: AgentUpdated,
    resource: (d) => ({ type: "agent", id: d.agent.id }),
    changes: (d) => ({ before: { version: d.previousVersion, config: d.before }, after: { version: d.agent.version, config: AgentConfig.parse(d.agent) } }),
  }),
  "agent.paused": entry({
    schemaVersion: 1,
    data: AgentPaused,
    resource: (d) => ({ type: "agent", id: d.agentId }),
    changes: (d) => ({ before: { status: d.before }, after: { status: d.status } }),
  }),
  "agent.deleted": entry({
    schemaVersion: 1,
    data: AgentDeleted,
    resource: (d) => ({ type: "agent", id: d.agentId }),
    changes: (d) => ({ before: { status: d.status, deleted: false }, after: { deleted: true } }),
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
  "execution.step_completed": entry({
    schemaVersion: 1,
    data: ExecutionStepCompleted,
    resource: (d) => ({ type: "execution", id: d.executionId }),
    // Progress, not a change of state: the audit entry names the step, its status and timing only.
    changes: (d) => ({ before: null, after: { step: d.step.name, status: d.step.status, durationMs: d.step.durationMs } }),
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
  "execution.cancelled": entry({
    schemaVersion: 1,
    data: ExecutionFinished,
    resource: (d) => ({ type: "execution", id: d.execution.id }),
    changes: (d) => ({ before: { status: d.execution.startedAt === null ? "queued" : "running" }, after: { status: d.execution.status } }),
  }),
  // Knowledge bases: never a document's text, only its title, size and chunk count.
  "knowledge_base.created": entry({
    schemaVersion: 1,
    data: KnowledgeBaseCreated,
    resource: (d) => ({ type: "knowledge_base", id: d.knowledgeBase.id }),
    changes: (d) => ({ before: null, after: { name: d.knowledgeBase.name } }),
  }),
  "document.added": entry({
    schemaVersion: 1,
    data: DocumentAdded,
    resource: (d) => ({ type: "document", id: d.documentId }),
    changes: (d) => ({ before: null, after: { knowledgeBaseId: d.knowledgeBaseId, title: d.title, sizeBytes: d.sizeBytes, status: "pending" } }),
  }),
  "document.indexed": entry({
    schemaVersion: 1,
    data: DocumentIndexed,
    resource: (d) => ({ type: "document", id: d.documentId }),
    changes: (d) => ({ before: { status: "pending" }, after: { status: d.status, chunkCount: d.chunkCount, error: d.error } }),
  }),
  // User sync from an external identity provider: system-workspace events (docs/bus.md).
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
  "trigger.created": entry({
    schemaVersion: 1,
    data: TriggerCreated,
    resource: (d) => ({ type: "trigger", id: d.trigger.id }),
    changes: (d) => ({ before: null, after: d.trigger }),
  }),
  "trigger.deleted": entry({
    schemaVersion: 1,
    data: TriggerDeleted,
    resource: (d) => ({ type: "trigger", id: d.triggerId }),
    changes: (d) => ({ before: { triggerId: d.triggerId, agentId: d.agentId, type: d.type }, after: null }),
  }),
  "trigger.secret_rotated": entry({
    schemaVersion: 1,
    data: TriggerSecretRotated,
    resource: (d) => ({ type: "trigger", id: d.triggerId }),
    changes: (d) => ({ before: null, after: { previousSecretExpiresAt: d.previousSecretExpiresAt } }),
  }),
  // A delivery's body may be large and may hold what its sender considers private: the audit
  // entry records its digest and size, never the body itself.
  "webhook.received": entry({
    schemaVersion: 1,
    data: WebhookReceived,
    resource: (d) => ({ type: "trigger", id: d.triggerId }),
    changes: (d) => ({ before: null, after: { webhookId: d.webhookId, executionId: d.executionId, agentId: d.agentId, bodySha256: d.bodySha256, bodySize: d.bodySize, receivedAt: d.receivedAt } }),
  }),
  // Operator replays and redrives (docs/replay.md): system-workspace events, written by audit.
  "replay.started": entry({
    schemaVersion: 1,
    data: ReplayStarted,
    resource: (d) => ({ type: "replay", id: d.replayId }),
    changes: (d) => ({ before: null, after: { target: d.target, subject: d.subject, workspaceId: d.workspaceId, fromSeq: d.fromSeq, endSeq: d.endSeq, dryRun: d.dryRun, reset: d.reset } }),
  }),
  "audit.retention_applied": entry({
    schemaVersion: 1,
    data: AuditRetentionApplied,
    resource: (d) => ({ type: "audit_log", id: d.workspaceId }),
    changes: (d) => ({ before: { checkpointSeq: d.fromSeq - 1 }, after: { checkpointSeq: d.throughSeq, checkpointHash: d.throughHash, exportFile: d.exportFile } }),
  }),
  "replay.completed": entry({
    schemaVersion: 1,
    data: ReplayCompleted,
    resource: (d) => ({ type: "replay", id: d.replayId }),
    changes: (d) => ({ before: { status: "running" }, after: { status: d.status, matched: d.matched, applied: d.applied, skipped: d.skipped, failed: d.failed, error: d.error } }),
  }),
  "dead_letter.redriven": entry({
    schemaVersion: 1,
    data: DeadLetterRedriven,
    resource: (d) => ({ type: "dead_letter", id: String(d.deadLetterId) }),
    changes: (d) => ({ before: null, after: { consumer: d.consumer, subject: d.subject, outcome: d.outcome } }),
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
  // Cut where the dots are rather than split and joined: every event a consumer takes comes here.
  if (!subject.startsWith("evt.")) return null;
  const typeStart = subject.indexOf(".", 4) + 1;
  if (typeStart === 0 || !subject.includes(".", typeStart)) return null;
  const workspaceId = subject.slice(4, typeStart - 1);
  if (!WorkspaceId.safeParse(workspaceId).success) return null;
  return { workspaceId, type: subject.slice(typeStart) };
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
