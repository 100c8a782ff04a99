import type { ColumnType, Generated, OutboxTable } from "@galaxy/db";

/**
 * One entry of a workspace's hash chain (docs/api.md "Audit entry"). Rows are never
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

/** An operator replay (docs/replay.md), a record of the system workspace. */
export interface ReplayRunsTable {
  id: string;
  workspace_id: string;
  target: string;
  subject: string;
  filter_workspace_id: string | null;
  since: Date | null;
  until: Date | null;
  from_seq: number | null;
  to_seq: number | null;
  end_seq: number | null;
  dry_run: boolean;
  reset: boolean;
  rate_per_sec: number | null;
  status: string;
  cancel_requested: Generated<boolean>;
  matched: Generated<number>;
  applied: Generated<number>;
  skipped: Generated<number>;
  failed: Generated<number>;
  last_seq: Generated<number | null>;
  /** What the reader says is left in the filter, for the ETA. */
  remaining: Generated<number | null>;
  error: string | null;
  requested_by: string;
  created_at: Generated<Date>;
  started_at: Generated<Date>;
  updated_at: Generated<Date>;
  finished_at: Date | null;
}

/** A dead letter handed back to its consumer (at most once each), a record of the system workspace. */
export interface DeadLetterRedrivesTable {
  workspace_id: string;
  dead_letter_seq: number;
  consumer: string;
  subject: string;
  outcome: string;
  error: string | null;
  redriven_by: string;
  redriven_at: Generated<Date>;
}

/** The `audit` schema as the service sees it. */
export interface AuditDb {
  audit_logs: AuditLogsTable;
  audit_checkpoints: AuditCheckpointsTable;
  replay_runs: ReplayRunsTable;
  dead_letter_redrives: DeadLetterRedrivesTable;
  outbox: OutboxTable;
}
