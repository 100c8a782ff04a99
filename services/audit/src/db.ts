import type { ColumnType, Generated } from "@galaxy/db";

/**
 * One entry of a workspace's hash chain (CONTRACT §1 "Audit entry"). Rows are never
 * updated or deleted by the service: its login role may only insert and select.
 */
export interface AuditLogsTable {
  /** The event id. */
  id: string;
  workspace_id: string;
  seq: number;
  /** Where the event sat in `EVENTS`: not hashed, kept to spot entries applied out of stream order. */
  stream_seq: number;
  actor_type: string;
  actor_id: string;
  action: string;
  resource_type: string;
  resource_id: string;
  /** `{before, after}` as hashed, or null; written as JSON text. */
  changes: ColumnType<unknown, string | null, never>;
  ip_address: string | null;
  user_agent: string | null;
  trace_id: string | null;
  /** The exact string that was hashed. */
  occurred_at: string;
  /** `occurred_at` as a time, for filtering only. */
  occurred_at_ts: ColumnType<Date, string, never>;
  hash: string;
  prev_hash: string;
  created_at: Generated<Date>;
}

/** What retention keeps of a removed chain prefix: its last `seq` and `hash`. */
export interface AuditCheckpointsTable {
  workspace_id: string;
  seq: number;
  hash: string;
  created_at: Generated<Date>;
}

/** The `audit` schema as the service sees it. */
export interface AuditDb {
  audit_logs: AuditLogsTable;
  audit_checkpoints: AuditCheckpointsTable;
}
