import { z } from "zod";
import {
  AddMemberBody, Agent, AgentVersion, ApiKey, AuditEntry, AuditVerification, CallbackDelivery, CreateAgentBody, CreateApiKeyBody, CreatedApiKey,
  CreatedTrigger, CreateKnowledgeBaseBody, CreateTriggerBody, CreateWorkspaceBody, CredentialStored, CredentialSummary, DeadLetter, DeadLetterRedrive,
  DeadLetterRedrives, ErrorBody, EventEnvelope, ExchangeBody, Execution, ExecutionDelta, Jwks, KnowledgeBase, KnowledgeDocument, KnowledgeQueryBody,
  KnowledgeQueryResult, LoginBody, LoginResult, Me, Member, Pagination, PutCredentialBody, RedriveManyRequest, ReplayAccepted, ReplayRun, RotatedTriggerSecret,
  SavedAgent, SecurityIncident, SignupBody, SignupResult, StartExecutionBody, StartReplayBody, SwitchWorkspaceBody, ToolSecretReply, Trigger, UpdateAgentBody,
  UpdateMemberBody, UpdateWorkspaceBody, WorkspaceDetails, WorkspaceMembership, AddDocumentBody, ExecutionFinished, ExecutionChange, TriggerDelivery,
} from "@galaxy/contracts";

/**
 * The schemas `/openapi.json` names in `components.schemas` (resources, request bodies, the
 * error body), so a generator makes one type of each instead of a copy per operation. Only the
 * schema instances the routes use are found: a schema derived with `.extend()` is inline.
 * Query strings and path parameters stay inline (OpenAPI lists them as parameters).
 */
export const apiSchemas = z.registry<{ id: string; description?: string }>();

const NAMED: Record<string, z.ZodType> = {
  Error: ErrorBody, Pagination,
  Agent, SavedAgent, AgentVersion, CreateAgentBody, UpdateAgentBody,
  Execution, StartExecutionBody, ExecutionDelta, ExecutionChange, CallbackDelivery, Event: EventEnvelope,
  Trigger, CreatedTrigger, CreateTriggerBody, RotatedTriggerSecret, TriggerDelivery,
  KnowledgeBase, CreateKnowledgeBaseBody, KnowledgeDocument, AddDocumentBody, KnowledgeQueryBody, KnowledgeQueryResult,
  SignupBody, SignupResult, LoginBody, LoginResult, ExchangeBody, SwitchWorkspaceBody, Me, Jwks,
  WorkspaceDetails, WorkspaceMembership, CreateWorkspaceBody, UpdateWorkspaceBody, Member, AddMemberBody, UpdateMemberBody,
  ApiKey, CreatedApiKey, CreateApiKeyBody, CredentialSummary, CredentialStored, PutCredentialBody, ToolSecretReply,
  AuditEntry, AuditVerification, ReplayRun, ReplayAccepted, StartReplayBody, DeadLetter, DeadLetterRedrive, DeadLetterRedrives, RedriveManyRequest, SecurityIncident,
};

for (const [id, schema] of Object.entries(NAMED)) apiSchemas.add(schema, { id });

/** The body of a completion callback: the terminal event of an execution (`webhooks.executionFinished`). */
export const CompletionCallback = EventEnvelope.extend({
  type: z.enum(["execution.completed", "execution.failed", "execution.cancelled"]).describe("`execution.failed` also for a run that timed out"),
  data: ExecutionFinished,
});
apiSchemas.add(CompletionCallback, { id: "CompletionCallback" });
