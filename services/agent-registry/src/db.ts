import type { ColumnType, Generated, OutboxTable } from "@galaxy/db";
import type { AgentStatus } from "@galaxy/contracts";
import type { KnowledgeBasesTable, KnowledgeChunksTable, KnowledgeDocumentsTable } from "./knowledge/knowledge.tables";

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
  /** The completion-callback secret of a version with a `notifyUrl`, sealed (libs/secrets); never leaves the registry but to the worker. */
  notify_secret_sealed: ColumnType<string | null, string | null | undefined, never>;
  created_by: string;
  created_at: Generated<Date>;
}

/** Webhook and schedule triggers (docs/api.md); secrets sealed with `GALAXY_MASTER_KEY` (libs/secrets). */
export interface TriggersTable {
  id: string;
  workspace_id: string;
  agent_id: string;
  type: "webhook" | "schedule";
  /** Webhook triggers: the current signing secret, sealed. */
  secret_sealed: string | null;
  /** After a rotation: the secret before it, sealed, verifying until `previous_secret_expires_at`. */
  previous_secret_sealed: string | null;
  previous_secret_expires_at: Date | null;
  /** Schedule triggers: cron expression (5 or 6 fields) and IANA time zone. */
  cron: string | null;
  timezone: string | null;
  /** Schedule triggers: the input of each execution, as JSON text; read back parsed. */
  input: ColumnType<unknown, string | null, string | null>;
  created_by: string;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  deleted_at: Date | null;
}

/** The `registry` schema as the service sees it. */
export interface RegistryDb {
  agents: AgentsTable;
  agent_versions: AgentVersionsTable;
  triggers: TriggersTable;
  knowledge_bases: KnowledgeBasesTable;
  knowledge_documents: KnowledgeDocumentsTable;
  knowledge_chunks: KnowledgeChunksTable;
  outbox: OutboxTable;
}
