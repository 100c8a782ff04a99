import { z } from "zod";
import { Agent, AgentListQuery, CreateAgentBody } from "./agents";
import { ApiKey, ApiKeyGrant, AuthenticateApiKeyRequest, CreateApiKeyBody, CreatedApiKey } from "./api-keys";
import { AuditEntry, AuditLogQuery } from "./audit";
import { CredentialRef, CredentialStored, CredentialSummary, PutCredentialRequest, ResolvedCredential } from "./credentials";
import { Jwks } from "./claims";
import { ErrorBody, ErrorStatus } from "./errors";
import { Execution, ExecutionTrigger } from "./executions";
import { Uuid, WorkspaceId } from "./ids";
import { LoginBody, LoginResult, Me, SignupBody, SignupResult } from "./identity";
import { ExchangeBody, UserSyncRequest, UserSyncResult } from "./oidc";
import {
  AddMemberBody, CreateWorkspaceBody, Member, MemberParams, MemberRemoval, SwitchWorkspaceBody, UpdateMemberRequest, UpdateWorkspaceBody,
  WorkspaceDetails, WorkspaceMembership,
} from "./members";
import { Page, PageQuery } from "./pagination";
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
  .object({ agentId: Uuid, input: z.unknown(), trigger: ExecutionTrigger.default({ type: "manual" }) })
  .strict();
export type StartExecutionRequest = z.infer<typeof StartExecutionRequest>;

/**
 * Every `svc.<service>.<operation>` request: its payload and reply schemas. Servers and
 * callers both import this, so neither side can drift.
 */
export const REQUESTS = {
  "identity.auth.signup": op({ request: SignupBody, reply: SignupResult, claim: "none" }),
  "identity.auth.login": op({ request: LoginBody, reply: LoginResult, claim: "none" }),
  // An external OIDC issuer's ID token for a Galaxy access token (CONTRACT §1); no workspace is known yet.
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
  "registry.agents.create": op({ request: CreateAgentBody, reply: Agent, claim: "required" }),
  "registry.agents.list": op({ request: PageQuery.extend(AgentListQuery.shape), reply: Page(Agent), claim: "required" }),
  "registry.agents.get": op({ request: ById, reply: Agent, claim: "required" }),
  "registry.agents.activate": op({ request: ById, reply: Agent, claim: "required" }),
  "execution.start": op({ request: StartExecutionRequest, reply: Execution, claim: "required" }),
  "execution.get": op({ request: ById, reply: Execution, claim: "required" }),
  "audit.logs.list": op({ request: PageQuery.extend(AuditLogQuery.shape), reply: Page(AuditEntry), claim: "required" }),
  // Operators (CONTRACT §1 system_admin, §3 keys). identity.operator.* carry no claim: in production only the
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
