export { Uuid, WorkspaceId, IsoDateTime, SYSTEM_WORKSPACE_ID } from "./ids";
export { uuidv7 } from "./uuid-v7";
export { ROLES, Role, Permissions, roleRank, lowerRole } from "./roles";
export {
  CLAIM_TYP, ACCESS_TOKEN_TYP, CLAIM_ISSUER, ACCESS_TOKEN_AUDIENCE, CLAIM_AUDIENCE,
  ClaimActor, WorkspaceClaim, AccessTokenPayload, PublicJwk, Jwks,
} from "./claims";
export { HEADER, EventHeaders, RequestContext } from "./headers";
export {
  ErrorBody, ERROR_TITLES, ErrorStatus, GalaxyError, ValidationError, UnauthorizedError, ForbiddenError,
  NotFoundError, ConflictError, UnsupportedMediaTypeError, UnavailableError, issueDetails, parseOrThrow,
} from "./errors";
export { MAX_JSON_DEPTH, UNSTORABLE_MESSAGES, findUnstorable, assertStorable } from "./json-storable";
export type { Unstorable, UnstorableReason } from "./json-storable";
export { PageQuery, CursorPageQuery, Pagination, Page, pagination, encodeCursor, decodeCursor, cursorPage, fitPage, PAGE_REPLY_CHARS, InvalidCursorError } from "./pagination";
export { HTTP_ERROR_CODES, UNRETRYABLE_UNAVAILABLE_CODES } from "./error-codes";
export type { HttpErrorCode } from "./error-codes";
export { SECRET_FIELDS, REDACTED, isSecretField, redact } from "./redaction";
export {
  JsonSchemaDoc, BUILTIN_TOOLS, AgentTool, Provider, AgentStatus, AgentConfig, CreateAgentBody, agentConfigFromBody,
  Agent, AgentListQuery,
} from "./agents";
export {
  NotifySecret, SavedAgent, UpdateAgentBody, UpdateAgentRequest, applyAgentUpdate, AgentVersion, AgentVersionsRequest, NotifySecretRequest,
  NotifySecretReply, AgentUpdated, AgentPaused, AgentDeleted, CallbackDeliveryStatus, CallbackDelivery, DeliveriesRequest,
} from "./agent-lifecycle";
export {
  EXECUTION_STATUSES, ExecutionStatus, TERMINAL_STATUSES, TriggerType, ExecutionTrigger, ExecutionOutput,
  ExecutionError, Usage, ZERO_USAGE, Execution, StartExecutionBody,
  ExecutionDelta, STEP_NAMES, StepName, ExecutionStep,
} from "./executions";
export { Email, SignupBody, LoginBody, User, Workspace, TokenGrant, SignupResult, LoginResult, Me } from "./identity";
export {
  WorkspaceSlug, WorkspaceSettings, CreateWorkspaceBody, UpdateWorkspaceBody, WorkspaceDetails, WorkspaceMembership, Member, AddMemberBody,
  UpdateMemberBody, MemberParams, UpdateMemberRequest, MemberRemoval, SwitchWorkspaceBody,
} from "./members";
export { AuditActor, AuditEntry, AuditLogQuery } from "./audit";
export {
  AUDIT_RETENTION_DAYS, AuditChainBreak, AuditChainHead, AuditExportPage, AuditExportPageRequest, AuditRetentionApplied, AuditRetentionRequest,
  AuditRetentionResult, AuditTier, AuditVerification, AuditVerifyRequest,
} from "./audit";
export { EventEnvelope, EVENT_CATALOG, EVENT_TYPES, isEventType, eventSubject, parseEventSubject, parseEvent } from "./events";
export {
  EventActor, WorkspaceCreated, MemberAdded, MemberRoleChanged, MemberRemoved, WorkspaceUpdated, ApiKeyInfo, ApiKeyCreated, ApiKeyRevoked, CrossWorkspaceAttempt, ForgedMessage, AgentCreated, AgentActivated, ExecutionEventBase, ExecutionQueued, ExecutionStarted, ExecutionFinished, ExecutionStepCompleted,
} from "./event-payloads";
export type { ResourceRef, Changes, EventCatalog, EventType, EventData, TypedEvent } from "./events";
export type { TerminalExecutionEvent } from "./execution-lifecycle";
export {
  ExecutionListQuery, ListExecutionsRequest, CancelExecutionRequest, MAX_EVENTS_PAGE, ExecutionEventsRequest, StoredExecutionEvent, ExecutionEventsReply,
  TERMINAL_EVENT_TYPES, TERMINAL_EXECUTION_EVENTS, isTerminalExecutionEvent, CancelSignal, MAX_STATUS_IDS, ExecutionStatusesRequest, ExecutionStatusesReply,
} from "./execution-lifecycle";
export {
  IssueClaimRequest, ServiceClaimRequest, ClaimGrant, StartExecutionRequest, REQUESTS, requestSubject, ReplyEnvelope,
} from "./requests";
export type { ClaimRule, Requests, RequestName, RequestPayload, ParsedRequest, ReplyData } from "./requests";
export { API_KEY_PREFIX, isApiKey, CreateApiKeyBody, ApiKey, CreatedApiKey, AuthenticateApiKeyRequest, ApiKeyGrant } from "./api-keys";
export {
  CredentialProvider, CredentialBaseUrl, PutCredentialBody, CredentialSummary, CredentialStored, PutCredentialRequest, CredentialRef,
  ResolvedCredential, ProviderCredentialUpdated, ProviderCredentialDeleted, last4,
} from "./credentials";
export {
  DOCUMENT_MAX_BYTES, KNOWLEDGE_TOP_K_MAX, KNOWLEDGE_TOP_K_DEFAULT, KnowledgeBaseName, EmbeddingProvider, CreateKnowledgeBaseBody, KnowledgeBase, DocumentStatus,
  AddDocumentBody, KnowledgeDocument, TopK, KnowledgeQueryBody, KnowledgeQueryResult, KnowledgeBaseRef, AddDocumentRequest, DocumentListQuery,
  ListDocumentsRequest, KnowledgeQueryRequest, KnowledgeQueryReply, KnowledgeSearchRequest, KnowledgeSearchHit, KnowledgeSearchReply,
  KnowledgeBaseCreated, DocumentAdded, DocumentIndexed,
} from "./knowledge";
export { ACTIONS, authorize, principalOf } from "./authorization";
export type { Action, Principal, ResourceOwnership } from "./authorization";
export { CommonEnv, NatsEnv, parseEnv } from "./config";
export {
  EXTERNAL_TOKEN_ALGORITHMS, ExchangeBody, ExternalTokenClaims, ClerkEmailAddress, ClerkUser, ClerkUserEvent, UserSyncRequest, UserSyncResult,
  ExternalIdentityRef, UserCreated, UserLinked, UserUpdated, UserDeleted,
} from "./oidc";
export {
  GrantSystemAdminRequest, SystemAdminGrant, SigningKeyStatus, SigningKeyInfo, SigningKeyList, RotateSigningKeyRequest, SigningKeyRotation,
  RevokeSigningKeyRequest, OperatorClaimRequest, SecurityIncidentsQuery, SecurityIncident, SystemAdminGranted, SigningKeyRotated, SigningKeyRevoked,
} from "./operators";
export {
  TriggerKind, CronExpression, TimeZone, CreateTriggerBody, Trigger, SCHEDULE_NEXT_RUNS, CreatedTrigger, RotatedTriggerSecret, AgentTriggerParams, TriggerParams,
  CreateTriggerRequest, ListTriggersRequest, TriggerRef, ResolveTriggerRequest, ResolvedTrigger, TriggerCreated, TriggerDeleted, TriggerSecretRotated,
  WebhookReceived,
} from "./triggers";
export { ExecutionSummary, EXECUTION_CHANGE_TYPES, ExecutionChangeType, ExecutionChange, ExecutionChangesQuery } from "./execution-changes";
export { TriggerDeliveryOutcome, TriggerDelivery, TRIGGER_DELIVERIES_KEPT, TRIGGER_DELIVERIES_TTL_S } from "./trigger-deliveries";
export { deliveryExecutionId, deliveryEventId } from "./webhook-deliveries";
export {
  PROJECTIONS, ProjectionName, CONSUMER_SERVICES, EventSubjectFilter, ReplayStatus, StartReplayBody, ReplayRun, ReplayAccepted, ReplayRef, ReplayListQuery,
  RawBusMessage, REPLAY_APPLY_MAX_MESSAGES, ReplayApplyRequest, ReplayApplyResult, ReplayWorkspaceRequest, ReplayResetResult, ReplayReleaseResult, RedriveMessageRequest, RedriveOutcome,
  RedriveMessageResult, DeadLetter, DeadLetterQuery, DeadLetterRef, RedriveManyRequest, DeadLetterRedrive, DeadLetterRedrives, ReplayStarted, ReplayCompleted,
  DeadLetterRedriven, RerunExecutionsRequest, RerunExecutionsResult, REPLAY_RUNNER, requireReplayRunner,
} from "./replay";
export { ToolSecret, ToolSecretRequest, ToolSecretReply } from "./tools";
export { RATE_TIERS_KEY, TierName, TierLimits, WorkspaceTier, WorkspaceTierRef, SetTierBody, SetWorkspaceTierRequest, WorkspaceTierChanged } from "./tiers";
