import type { AgentStatus, ExecutionStatus } from "@galaxy/contracts";
import type { ColumnType, Generated, OutboxTable } from "@galaxy/db";

/** jsonb: read back parsed (checked with zod where used), written as JSON text. */
type Json = ColumnType<unknown, string, string>;
type NullableJson = ColumnType<unknown, string | null, string | null>;

export interface AgentsTable {
  workspace_id: string;
  agent_id: string;
  status: AgentStatus;
  current_version: number;
  deleted: Generated<boolean>;
  /** When the fact last applied happened, not when it was written. */
  updated_at: Date;
}

export interface AgentVersionsTable {
  workspace_id: string;
  agent_id: string;
  version: number;
  config: Json;
  created_at: Generated<Date>;
}

export interface ExecutionsTable {
  id: string;
  workspace_id: string;
  agent_id: string;
  agent_version: number;
  status: ExecutionStatus;
  trigger: Json;
  input: NullableJson;
  output: NullableJson;
  error: NullableJson;
  input_tokens: Generated<number>;
  output_tokens: Generated<number>;
  total_tokens: Generated<number>;
  /** numeric: pg hands it back as a string so no precision is lost on the way. */
  cost_usd: ColumnType<string, number | undefined, number>;
  duration_ms: number | null;
  created_by: string;
  /** The originating request's correlation id and trace: the pipeline's events continue them. */
  correlation_id: string;
  traceparent: string | null;
  /** The `execution.queued` event: what the pipeline's first event was caused by. */
  queued_event_id: string | null;
  attempt: Generated<number>;
  lease_owner: string | null;
  lease_expires_at: Date | null;
  /** The seq of this execution's last event (`execution_events`). */
  last_event_seq: Generated<number>;
  /** When `execution.cancel` asked a running execution to stop. */
  cancel_requested_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  created_at: ColumnType<Date, Date | undefined, never>;
  started_at: Date | null;
  completed_at: Date | null;
}

export type StepStatus = "running" | "completed" | "failed" | "abandoned";

export interface ExecutionStepsTable {
  id: string;
  workspace_id: string;
  execution_id: string;
  name: string;
  status: StepStatus;
  started_at: Date;
  completed_at: Date | null;
  duration_ms: number | null;
  detail: ColumnType<unknown, string | undefined, string>;
}

/** One execution's events in order: what the SSE stream replays. */
export interface ExecutionEventsTable {
  workspace_id: string;
  execution_id: string;
  seq: number;
  event_id: string;
  type: string;
  payload: ColumnType<unknown, string, never>;
  occurred_at: Date;
}

/** A workspace's subscription tier (src/quota/tiers.ts); none means free. */
export interface WorkspaceTiersTable {
  workspace_id: string;
  tier: string;
  updated_at: Date;
}

/** Tokens a workspace used in a month (`month` is its first day). */
export interface WorkspaceUsageTable {
  workspace_id: string;
  month: ColumnType<Date, string, string>;
  /** bigint: pg hands it back as a string. */
  tokens: ColumnType<string, number, number>;
  executions: number;
}

/** One attempt to deliver a terminal execution event to the agent's `notifyUrl` (src/callbacks). */
export interface CallbackDeliveriesTable {
  id: string;
  workspace_id: string;
  execution_id: string;
  event_id: string;
  event_type: string;
  agent_id: string;
  agent_version: number;
  attempt: number;
  url: string;
  status: "pending" | "delivered" | "failed";
  response_status: number | null;
  error: string | null;
  payload: ColumnType<unknown, string, never>;
  at: ColumnType<Date, Date | undefined, Date>;
  next_attempt_at: Date | null;
  give_up_at: ColumnType<Date, Date, never>;
  /** The span that scheduled the delivery; its attempts continue it. */
  traceparent: ColumnType<string | null, string | null | undefined, never>;
}

/** The `execution` schema as the service sees it. */
export interface ExecutionDb {
  agents: AgentsTable;
  agent_versions: AgentVersionsTable;
  executions: ExecutionsTable;
  execution_steps: ExecutionStepsTable;
  callback_deliveries: CallbackDeliveriesTable;
  execution_events: ExecutionEventsTable;
  workspace_tiers: WorkspaceTiersTable;
  workspace_usage: WorkspaceUsageTable;
  outbox: OutboxTable;
}
