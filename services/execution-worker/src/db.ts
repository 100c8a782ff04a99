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
  traceparent: string;
  /** The `execution.queued` event: what the pipeline's first event was caused by. */
  queued_event_id: string | null;
  attempt: Generated<number>;
  lease_owner: string | null;
  lease_expires_at: Date | null;
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

/** The `execution` schema as the service sees it. */
export interface ExecutionDb {
  agents: AgentsTable;
  agent_versions: AgentVersionsTable;
  executions: ExecutionsTable;
  execution_steps: ExecutionStepsTable;
  outbox: OutboxTable;
}
