import { z } from "zod";
import { Agent, AgentListQuery, CreateAgentBody } from "./agents";
import {
  AgentVersion, AgentVersionsRequest, CallbackDelivery, DeliveriesRequest, NotifySecretReply, NotifySecretRequest, SavedAgent, UpdateAgentRequest,
} from "./agent-lifecycle";
import { ApiKey, ApiKeyGrant, AuthenticateApiKeyRequest, CreateApiKeyBody, CreatedApiKey } from "./api-keys";
import {
  AuditEntry, AuditExportPage, AuditExportPageRequest, AuditLogQuery, AuditRetentionRequest, AuditRetentionResult, AuditVerification, AuditVerifyRequest,
} from "./audit";
import { CredentialRef, CredentialStored, CredentialSummary, PutCredentialRequest, ResolvedCredential } from "./credentials";
import { Jwks } from "./claims";
import {
  AddDocumentRequest, CreateKnowledgeBaseBody, KnowledgeBase, KnowledgeDocument, KnowledgeQueryReply, KnowledgeQueryRequest, KnowledgeSearchReply,
  KnowledgeSearchRequest, ListDocumentsRequest,
} from "./knowledge";
import { ErrorBody, ErrorStatus } from "./errors";
import { Execution, ExecutionTrigger } from "./executions";
import { CancelExecutionRequest, ExecutionEventsReply, ExecutionEventsRequest, ExecutionStatusesReply, ExecutionStatusesRequest, ListExecutionsRequest } from "./execution-lifecycle";
import { Uuid, WorkspaceId } from "./ids";
import { SetWorkspaceTierRequest, WorkspaceTier, WorkspaceTierRef } from "./tiers";
import { ToolSecretReply, ToolSecretRequest } from "./tools";
import { LoginBody, LoginResult, Me, SignupBody, SignupResult } from "./identity";
import { ExchangeBody, UserSyncRequest, UserSyncResult } from "./oidc";
import {
  AddMemberBody, CreateWorkspaceBody, Member, MemberParams, MemberRemoval, SwitchWorkspaceBody, UpdateMemberRequest, UpdateWorkspaceBody,
  WorkspaceDetails, WorkspaceMembership,
} from "./members";
import { CursorPageQuery, Page, PageQuery } from "./pagination";
import {
  DeadLetter, DeadLetterQuery, DeadLetterRedrive, DeadLetterRedrives, DeadLetterRef, RedriveManyRequest, RedriveMessageRequest, RedriveMessageResult,
  ReplayAccepted, ReplayApplyRequest, ReplayApplyResult, ReplayListQuery, ReplayRef, ReplayReleaseResult, ReplayResetResult, ReplayRun, ReplayWorkspaceRequest,
  RerunExecutionsRequest, RerunExecutionsResult, StartReplayBody,
} from "./replay";
import { CreatedTrigger, CreateTriggerRequest, ListTriggersRequest, ResolvedTrigger, ResolveTriggerRequest, RotatedTriggerSecret, Trigger, TriggerRef } from "./triggers";
import {
  GrantSystemAdminRequest, OperatorClaimRequest, RevokeSigningKeyRequest, RotateSigningKeyRequest, SecurityIncident, SecurityIncidentsQuery, SigningKeyInfo,
  SigningKeyList, SigningKeyRotation, SystemAdminGrant,
} from "./operators";

/** Whether a request must carry a workspace claim (everything acting inside a workspace). */
export type ClaimRule = "required" | "none";

interface RequestEntry<Req extends z.ZodType, Rep extends z.ZodType> {
  request: Req;
  reply: Rep;
  claim: ClaimRule;
}

function op<Req extends z.ZodType, Rep extends z.ZodType>(e: RequestEntry<Req, Rep>): RequestEntry<Req, Rep> {
  return e;
}

const ById = z.object({ id: Uuid }).strict();

export const IssueClaimRequest = z.object({ accessToken: z.string().min(1).max(8192) }).strict();
export type IssueClaimRequest = z.infer<typeof IssueClaimRequest>;
export const ServiceClaimRequest = z.object({ workspaceId: WorkspaceId, service: z.string().regex(/^[a-z-]+$/) }).strict();
export type ServiceClaimRequest = z.infer<typeof ServiceClaimRequest>;
export const ClaimGrant = z.object({ claim: z.string(), expiresAt: z.number().int() });
export type ClaimGrant = z.infer<typeof ClaimGrant>;

export const StartExecutionRequest = z
  .object({
    agentId: Uuid,
    input: z.unknown(),
    trigger: ExecutionTrigger.default({ type: "manual" }),
    /**
     * A start derived from a fact that may come twice (a schedule tick, a webhook delivery, an
     * API start with an `Idempotency-Key`) fixes the execution's id, so a repeat answers the same
     * execution and starts nothing. The gateway derives it (never takes one from a caller).
     */
    executionId: Uuid.optional(),
  })
  .strict();
export type StartExecutionRequest = z.infer<typeof StartExecutionRequest>;

/**
 * Every `svc.<service>.<operation>` request: its payload and reply schemas. Servers and
 * callers both import this, so neither side can drift.
 */
export const REQUESTS = {
  "identity.auth.signup": op({ request: SignupBody, reply: SignupResult, claim: "none" }),
  "identity.auth.login": op({ request: LoginBody, reply: LoginResult, claim: "none" }),
  // An external OIDC issuer's ID token for a Galaxy access token (docs/api.md); no workspace is known yet.
  "identity.auth.exchange": op({ request: ExchangeBody, reply: LoginResult, claim: "none" }),
  // A verified provider webhook (the gateway checks its Standard Webhooks signature); system-workspace events.
  "identity.users.sync": op({ request: UserSyncRequest, reply: UserSyncResult, claim: "none" }),
  "identity.me": op({ request: z.object({}).strict(), reply: Me, claim: "required" }),
  "identity.auth.switch": op({ request: SwitchWorkspaceBody, reply: LoginResult, claim: "required" }),
  "identity.workspaces.create": op({ request: CreateWorkspaceBody, reply: WorkspaceDetails, claim: "required" }),
  "identity.workspaces.list": op({ request: PageQuery, reply: Page(WorkspaceMembership), claim: "required" }),
  "identity.workspace.get": op({ request: z.object({}).strict(), reply: WorkspaceDetails, claim: "required" }),
  "identity.workspace.update": op({ request: UpdateWorkspaceBody, reply: WorkspaceDetails, claim: "required" }),
  "identity.members.list": op({ request: PageQuery, reply: Page(Member), claim: "required" }),
  "identity.members.add": op({ request: AddMemberBody, reply: Member, claim: "required" }),
  "identity.members.update": op({ request: UpdateMemberRequest, reply: Member, claim: "required" }),
  "identity.members.remove": op({ request: MemberParams, reply: MemberRemoval, claim: "required" }),
  "identity.jwks": op({ request: z.object({}).strict(), reply: Jwks, claim: "none" }),
  "identity.claims.issue": op({ request: IssueClaimRequest, reply: ClaimGrant, claim: "none" }),
  "identity.claims.service": op({ request: ServiceClaimRequest, reply: ClaimGrant, claim: "none" }),
  "identity.api_keys.create": op({ request: CreateApiKeyBody, reply: CreatedApiKey, claim: "required" }),
  "identity.api_keys.list": op({ request: PageQuery, reply: Page(ApiKey), claim: "required" }),
  "identity.api_keys.revoke": op({ request: ById, reply: ApiKey, claim: "required" }),
  // The gateway alone may ask (NATS permissions, infra/nats/): it trades a presented key for a claim.
  "identity.api_keys.authenticate": op({ request: AuthenticateApiKeyRequest, reply: ApiKeyGrant, claim: "none" }),
  "registry.agents.create": op({ request: CreateAgentBody, reply: SavedAgent, claim: "required" }),
  "registry.agents.list": op({ request: PageQuery.extend(AgentListQuery.shape), reply: Page(Agent), claim: "required" }),
  "registry.agents.get": op({ request: ById, reply: Agent, claim: "required" }),
  "registry.agents.activate": op({ request: ById, reply: Agent, claim: "required" }),
  // A config change makes a new version; the answer carries `notifySecret` when it issued one.
  "registry.agents.update": op({ request: UpdateAgentRequest, reply: SavedAgent, claim: "required" }),
  "registry.agents.pause": op({ request: ById, reply: Agent, claim: "required" }),
  // Soft: the agent is 404 everywhere afterwards; the reply is the agent as it was.
  "registry.agents.delete": op({ request: ById, reply: Agent, claim: "required" }),
  "registry.agents.versions": op({ request: AgentVersionsRequest, reply: Page(AgentVersion), claim: "required" }),
  // Carries a secret: only the execution worker's NATS user may ask, and the registry accepts only its service claim.
  "registry.agents.notify_secret": op({ request: NotifySecretRequest, reply: NotifySecretReply, claim: "required" }),
  "registry.knowledge_bases.create": op({ request: CreateKnowledgeBaseBody, reply: KnowledgeBase, claim: "required" }),
  "registry.knowledge_bases.list": op({ request: PageQuery, reply: Page(KnowledgeBase), claim: "required" }),
  "registry.knowledge_bases.get": op({ request: ById, reply: KnowledgeBase, claim: "required" }),
  "registry.documents.add": op({ request: AddDocumentRequest, reply: KnowledgeDocument, claim: "required" }),
  "registry.documents.list": op({ request: ListDocumentsRequest, reply: Page(KnowledgeDocument), claim: "required" }),
  "registry.knowledge.query": op({ request: KnowledgeQueryRequest, reply: KnowledgeQueryReply, claim: "required" }),
  // The execution worker's search over an agent's knowledge bases (a service claim); unknown ids are absent, not errors.
  "registry.knowledge.search": op({ request: KnowledgeSearchRequest, reply: KnowledgeSearchReply, claim: "required" }),
  "execution.start": op({ request: StartExecutionRequest, reply: Execution, claim: "required" }),
  "execution.get": op({ request: ById, reply: Execution, claim: "required" }),
  "execution.list": op({ request: ListExecutionsRequest, reply: Page(Execution), claim: "required" }),
  // A webhook trigger's delivery log shows each accepted delivery's execution status: asked for all at once, without inputs and outputs.
  "execution.statuses": op({ request: ExecutionStatusesRequest, reply: ExecutionStatusesReply, claim: "required" }),
  // A queued execution ends `cancelled` at once; a running one is signalled and ends `cancelled` within moments.
  "execution.cancel": op({ request: CancelExecutionRequest, reply: Execution, claim: "required" }),
  // The SSE stream's stored part: an execution's events after a seq, in order.
  "execution.events.list": op({ request: ExecutionEventsRequest, reply: ExecutionEventsReply, claim: "required" }),
  // The signing secret of an agent's webhook tool calls (derived by the worker from the master key).
  "execution.tools.secret": op({ request: ToolSecretRequest, reply: ToolSecretReply, claim: "required" }),
  "execution.deliveries.list": op({ request: DeliveriesRequest, reply: Page(CallbackDelivery), claim: "required" }),
  // A workspace's subscription tier: an operator claim of the system workspace alone (a system admin, the CLI).
  "execution.tiers.get": op({ request: WorkspaceTierRef, reply: WorkspaceTier, claim: "required" }),
  "execution.tiers.set": op({ request: SetWorkspaceTierRequest, reply: WorkspaceTier, claim: "required" }),
  "audit.logs.list": op({ request: CursorPageQuery.extend(AuditLogQuery.shape), reply: Page(AuditEntry), claim: "required" }),
  // Admins of the claim's workspace; an operator claim of the system workspace may name any workspace.
  "audit.logs.verify": op({ request: AuditVerifyRequest, reply: AuditVerification, claim: "required" }),
  // The gateway's NDJSON export reads the log a page at a time through this (admins).
  "audit.logs.export_page": op({ request: AuditExportPageRequest, reply: AuditExportPage, claim: "required" }),
  // Retention of one workspace's log (export, prune, checkpoint): an operator claim of the system workspace alone.
  "audit.retention.apply": op({ request: AuditRetentionRequest, reply: AuditRetentionResult, claim: "required" }),
  // Operators (docs/security.md, "System admins and operators"). identity.operator.* carry no claim: in production only the
  // galaxy-cli NATS user may make them (infra/nats/); docs/security.md, Operators, says what that rests on.
  "identity.operator.grant_system_admin": op({ request: GrantSystemAdminRequest, reply: SystemAdminGrant, claim: "none" }),
  "identity.operator.keys.list": op({ request: z.object({}).strict(), reply: SigningKeyList, claim: "none" }),
  "identity.operator.keys.rotate": op({ request: RotateSigningKeyRequest, reply: SigningKeyRotation, claim: "none" }),
  "identity.operator.keys.revoke": op({ request: RevokeSigningKeyRequest, reply: SigningKeyInfo, claim: "none" }),
  // A system admin's access token for an operator claim on the system workspace; identity re-reads the flag.
  "identity.claims.operator": op({ request: OperatorClaimRequest, reply: ClaimGrant, claim: "none" }),
  // Every workspace's security.* entries; audit answers an operator claim of the system workspace alone.
  "audit.security_incidents.list": op({ request: SecurityIncidentsQuery, reply: Page(SecurityIncident), claim: "required" }),
  "identity.credentials.put": op({ request: PutCredentialRequest, reply: CredentialStored, claim: "required" }),
  "identity.credentials.list": op({ request: PageQuery, reply: Page(CredentialSummary), claim: "required" }),
  "identity.credentials.delete": op({ request: CredentialRef, reply: z.object({}), claim: "required" }),
  // Carries a key: only the execution worker's NATS user may ask, and identity accepts only a service claim.
  "identity.credentials.resolve": op({ request: CredentialRef, reply: ResolvedCredential, claim: "required" }),
  "registry.triggers.create": op({ request: CreateTriggerRequest, reply: CreatedTrigger, claim: "required" }),
  "registry.triggers.list": op({ request: ListTriggersRequest, reply: Page(Trigger), claim: "required" }),
  "registry.triggers.delete": op({ request: TriggerRef, reply: Trigger, claim: "required" }),
  "registry.triggers.rotate_secret": op({ request: TriggerRef, reply: RotatedTriggerSecret, claim: "required" }),
  // A webhook delivery names its trigger, and the trigger its workspace: no claim. It carries
  // the trigger's secrets, so only the gateway's NATS user may ask (infra/nats/).
  "registry.triggers.resolve": op({ request: ResolveTriggerRequest, reply: ResolvedTrigger, claim: "none" }),
  // The CLI's operator claim on the system workspace (`sub: "galaxy-cli"`), for the operator requests
  // that take one (replays, dead letters); under svc.identity.operator.>, so galaxy-cli's alone.
  "identity.operator.claim": op({ request: z.object({}).strict(), reply: ClaimGrant, claim: "none" }),
  // Operator replay and dead letters (docs/replay.md): audit answers an operator claim of the system workspace alone.
  "audit.replays.start": op({ request: StartReplayBody, reply: ReplayAccepted, claim: "required" }),
  "audit.replays.get": op({ request: ReplayRef, reply: ReplayRun, claim: "required" }),
  "audit.replays.list": op({ request: ReplayListQuery, reply: Page(ReplayRun), claim: "required" }),
  "audit.replays.cancel": op({ request: ReplayRef, reply: ReplayRun, claim: "required" }),
  "audit.dead_letters.list": op({ request: DeadLetterQuery, reply: Page(DeadLetter), claim: "required" }),
  "audit.dead_letters.get": op({ request: DeadLetterRef, reply: DeadLetter, claim: "required" }),
  "audit.dead_letters.redrive": op({ request: DeadLetterRef, reply: DeadLetterRedrive, claim: "required" }),
  "audit.dead_letters.redrive_many": op({ request: RedriveManyRequest, reply: DeadLetterRedrives, claim: "required" }),
  // A projection's side of a replay and of a redrive: audit's NATS user alone asks (infra/nats/), with
  // its service claim of the system workspace; each message carried is verified like a live one.
  "execution.replay.apply": op({ request: ReplayApplyRequest, reply: ReplayApplyResult, claim: "required" }),
  "execution.replay.reset": op({ request: ReplayWorkspaceRequest, reply: ReplayResetResult, claim: "required" }),
  "execution.replay.release": op({ request: ReplayWorkspaceRequest, reply: ReplayReleaseResult, claim: "required" }),
  "execution.dlq.redrive": op({ request: RedriveMessageRequest, reply: RedriveMessageResult, claim: "required" }),
  // The registry's consumer (agent-registry-documents) takes its dead letters back the same way.
  "registry.dlq.redrive": op({ request: RedriveMessageRequest, reply: RedriveMessageResult, claim: "required" }),
  // Bulk re-run of failed executions as new ones (`galaxy executions rerun`): an operator claim of the system workspace.
  "execution.rerun": op({ request: RerunExecutionsRequest, reply: RerunExecutionsResult, claim: "required" }),
} as const;

export type Requests = typeof REQUESTS;
export type RequestName = keyof Requests;
export type RequestPayload<N extends RequestName> = z.input<Requests[N]["request"]>;
export type ParsedRequest<N extends RequestName> = z.infer<Requests[N]["request"]>;
export type ReplyData<N extends RequestName> = z.infer<Requests[N]["reply"]>;

/** The subject of a request, before any bus prefix. */
export function requestSubject(name: RequestName): string {
  return `svc.${name}`;
}

/** What every `svc.*` reply is: data, or a typed error the gateway renders as is. */
export const ReplyEnvelope = z.discriminatedUnion("ok", [
  z.object({ ok: z.literal(true), data: z.unknown() }),
  z.object({ ok: z.literal(false), status: ErrorStatus, error: ErrorBody }),
]);
export type ReplyEnvelope = z.infer<typeof ReplyEnvelope>;
