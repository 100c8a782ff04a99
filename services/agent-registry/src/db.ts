import type { ColumnType, Generated, OutboxTable } from "@galaxy/db";
import type { AgentStatus } from "@galaxy/contracts";

export interface AgentsTable {
  id: string;
  workspace_id: string;
  name: string;
  description: string | null;
  status: AgentStatus;
  current_version: number;
  created_by: string;
  /** The user behind an API key that created the agent (else the creator itself); null before this column existed. */
  created_by_user: string | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  deleted_at: Date | null;
}

export interface AgentVersionsTable {
  workspace_id: string;
  agent_id: string;
  version: number;
  /** An `AgentConfig`, written as JSON text; read back as parsed JSON and checked again. */
  config: ColumnType<unknown, string, never>;
  created_by: string;
  created_at: Generated<Date>;
}

/** The `registry` schema as the service sees it. */
export interface RegistryDb {
  agents: AgentsTable;
  agent_versions: AgentVersionsTable;
  outbox: OutboxTable;
}
