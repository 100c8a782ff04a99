/** The API's resources as the console reads them (docs/executions.md, docs/webhooks.md, docs/audit-chain.md, docs/replay.md). */

export type Role = "viewer" | "member" | "admin" | "owner";
export const ROLES: readonly Role[] = ["viewer", "member", "admin", "owner"];

export interface Workspace {
  id: string;
  name: string;
  slug: string;
}

export interface User {
  id: string;
  email: string;
  name: string;
}

export interface TokenGrant {
  accessToken: string;
  expiresAt: string;
  workspace: Workspace;
  role: Role;
}

export interface SignupResult extends TokenGrant {
  user: User;
}

export interface Me {
  user: User;
  workspace: Workspace;
  role: Role;
  memberships: Array<{ workspace: Workspace; role: Role }>;
}

export type Provider = "openai" | "anthropic";
export type AgentStatus = "draft" | "active" | "paused";
export const BUILTIN_TOOLS = ["current_time", "calculator", "knowledge_search"] as const;
export type BuiltinTool = (typeof BUILTIN_TOOLS)[number];

export type AgentTool =
  | { type: "builtin"; name: BuiltinTool }
  | { type: "webhook"; name: string; description: string; parameters: Record<string, unknown>; url: string };

export interface AgentConfig {
  name: string;
  description: string | null;
  provider: Provider;
  model: string;
  systemPrompt: string;
  temperature: number | null;
  maxTokens: number | null;
  tools: AgentTool[];
  knowledgeBaseIds: string[];
  inputSchema: Record<string, unknown> | null;
  outputSchema: Record<string, unknown> | null;
  timeoutMs: number | null;
  notifyUrl: string | null;
}

export interface Agent extends AgentConfig {
  id: string;
  workspaceId: string;
  status: AgentStatus;
  version: number;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

export interface SavedAgent extends Agent {
  notifySecret?: string;
}

export interface AgentVersion {
  version: number;
  config: AgentConfig;
  createdBy: string;
  createdAt: string;
}

export const EXECUTION_STATUSES = ["queued", "running", "completed", "failed", "cancelled", "timed_out"] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];
export const TERMINAL: ReadonlySet<ExecutionStatus> = new Set(["completed", "failed", "cancelled", "timed_out"]);
export const TRIGGER_TYPES = ["manual", "webhook", "schedule", "replay"] as const;
export type TriggerType = (typeof TRIGGER_TYPES)[number];

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  costUsd: number;
}

export interface Execution {
  id: string;
  workspaceId: string;
  agentId: string;
  agentVersion: number;
  status: ExecutionStatus;
  trigger: { type: TriggerType; id?: string };
  input: unknown;
  output: { text: string; json?: unknown } | null;
  error: { code: string; message: string } | null;
  usage: Usage;
  durationMs: number | null;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
}

export interface ExecutionStep {
  name: "context" | "model_call" | "tool_call" | "output";
  status: "completed" | "failed";
  startedAt: string;
  completedAt: string;
  durationMs: number;
  detail: Record<string, unknown>;
}

export interface CallbackDelivery {
  attempt: number;
  url: string;
  status: string;
  responseStatus: number | null;
  at: string;
}

export interface Trigger {
  id: string;
  type: "webhook" | "schedule";
  agentId: string;
  workspaceId: string;
  url: string | null;
  cron: string | null;
  timezone: string | null;
  input: unknown;
  createdBy: string;
  createdAt: string;
  /** Schedules: the next tick and the next three (none while the agent is not active). */
  nextRunAt?: string | null;
  nextRuns?: string[];
  secret?: string;
}

/** One delivery to a webhook trigger as the gateway answered it (docs/webhooks.md, Deliveries). */
export interface TriggerDelivery {
  seq: number;
  receivedAt: string;
  webhookId: string | null;
  outcome: "accepted" | "refused";
  httpStatus: number;
  code: string | null;
  executionId: string | null;
  executionStatus: ExecutionStatus | null;
}

export interface AuditEntry {
  id: string;
  workspaceId: string;
  seq: number;
  actor: { type: string; id: string };
  action: string;
  resourceType: string;
  resourceId: string | null;
  changes: { before: unknown; after: unknown } | null;
  ipAddress: string | null;
  userAgent: string | null;
  traceId: string | null;
  occurredAt: string;
  hash: string;
  prevHash: string;
}

export interface AuditVerification {
  workspaceId: string;
  valid: boolean;
  entries: number;
  head: { seq: number; hash: string } | null;
  checkpoint: { seq: number; hash: string } | null;
  firstBadSeq?: number;
  reason?: "hash_mismatch" | "prev_hash_mismatch" | "seq_gap";
}

export interface Member {
  userId: string;
  email: string;
  name: string;
  role: Role;
  joinedAt: string;
}

export interface ApiKey {
  id: string;
  name: string;
  role: Role;
  prefix: string;
  createdAt: string;
  expiresAt: string | null;
  key?: string;
}

export interface CredentialSummary {
  provider: "openai" | "anthropic" | "pinecone";
  last4: string;
  baseUrl: string | null;
  updatedAt: string;
}

export interface KnowledgeBase {
  id: string;
  name: string;
  documentCount: number;
  createdAt: string;
}

export interface KnowledgeDocument {
  id: string;
  title: string;
  sizeBytes: number;
  status: "pending" | "indexed" | "failed";
  chunkCount: number | null;
  error: string | null;
  createdAt: string;
}

export interface KnowledgeChunk {
  documentId: string;
  chunkIndex: number;
  chunk: string;
  score: number;
}

export type ProjectionName = "audit" | "execution-worker.agent-versions";
export const PROJECTIONS: readonly ProjectionName[] = ["audit", "execution-worker.agent-versions"];

export interface ReplayRun {
  id: string;
  status: "running" | "completed" | "failed" | "cancelled";
  target: ProjectionName;
  subject: string;
  workspaceId: string | null;
  dryRun: boolean;
  reset: boolean;
  matched: number;
  applied: number;
  skipped: number;
  failed: number;
  rate: number;
  etaSeconds: number | null;
  endSeq: number | null;
  lastSeq: number | null;
  error: string | null;
  createdAt: string;
  finishedAt: string | null;
}

export interface DeadLetter {
  id: number;
  consumer: string;
  subject: string;
  workspaceId: string | null;
  eventType: string | null;
  error: string;
  deliveries: number;
  failedAt: string;
  payload: unknown;
  redrive: { outcome: string; error: string | null; at: string; by: string } | null;
}

export interface DeadLetterRedrive {
  id: number;
  outcome: string;
  error: string | null;
}
