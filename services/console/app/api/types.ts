/** The API's resources as the console reads them (docs/executions.md, docs/webhooks.md, docs/audit-chain.md, docs/replay.md). */
import type { components } from "@galaxy/sdk";

/** The resources `@galaxy/sdk` generates from `/openapi.json`: the console reads them as the API documents them. */
type Schemas = components["schemas"];
export type Agent = Schemas["Agent"];
export type SavedAgent = Schemas["SavedAgent"];
export type Execution = Schemas["Execution"];
export type Trigger = Schemas["CreatedTrigger"];
export type TriggerDelivery = Schemas["TriggerDelivery"];
export type ExecutionChange = Schemas["ExecutionChange"];
export type CallbackDelivery = Schemas["CallbackDelivery"];
export type AuditEntry = Schemas["AuditEntry"];
export type Member = Schemas["Member"];
export type KnowledgeBase = Schemas["KnowledgeBase"];
export type KnowledgeDocument = Schemas["KnowledgeDocument"];

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

export type Provider = Agent["provider"];
export const PROVIDERS: readonly Provider[] = ["openai", "anthropic", "google"];
export type AgentStatus = Agent["status"];
export const AGENT_STATUSES: readonly AgentStatus[] = ["draft", "active", "paused"];
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

export interface ExecutionStep {
  name: "context" | "model_call" | "tool_call" | "output";
  status: "completed" | "failed";
  startedAt: string;
  completedAt: string;
  durationMs: number;
  detail: Record<string, unknown>;
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
  provider: "openai" | "anthropic" | "google" | "pinecone";
  last4: string;
  baseUrl: string | null;
  updatedAt: string;
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
