import { outboxRetentionMigration, type Migration } from "@galaxy/db";
import * as createAuditLogs from "./2026_11_26_00_30_00_create_audit_logs";
import * as createSecurityIncidents from "./2026_11_26_02_00_00_create_security_incidents";
import * as auditRetentionAndReset from "./2026_11_26_15_00_00_audit_retention_and_reset";
import * as createReplays from "./2026_11_26_16_00_00_create_replays";
import * as guardReplayReset from "./2026_11_26_19_00_00_guard_replay_reset";
import * as appendEntries from "./2026_12_04_23_00_00_append_entries";
import * as securityIncidentsAfter from "./2026_12_04_23_50_00_security_incidents_after";
import * as cheaperHashChecks from "./2026_12_06_20_30_00_cheaper_hash_checks";
import * as appendEntriesProbesIds from "./2026_12_06_21_00_00_append_entries_probes_ids";
import * as appendEntriesPlansProbeEachCall from "./2026_12_07_15_00_00_append_entries_plans_probe_each_call";

/** This service's migrations in order; frozen once landed. */
export const migrations: Record<string, Migration> = {
  "2026_11_26_00_30_00_create_audit_logs": createAuditLogs,
  "2026_11_26_02_00_00_create_security_incidents": createSecurityIncidents,
  "2026_11_26_15_00_00_audit_retention_and_reset": auditRetentionAndReset,
  "2026_11_26_16_00_00_create_replays": createReplays,
  "2026_11_26_19_00_00_guard_replay_reset": guardReplayReset,
  "2026_12_04_23_00_00_append_entries": appendEntries,
  "2026_12_04_23_50_00_security_incidents_after": securityIncidentsAfter,
  "2026_12_06_07_40_00_outbox_keeps_recent_rows": outboxRetentionMigration("audit"),
  "2026_12_06_20_30_00_cheaper_hash_checks": cheaperHashChecks,
  "2026_12_06_21_00_00_append_entries_probes_ids": appendEntriesProbesIds,
  "2026_12_07_15_00_00_append_entries_plans_probe_each_call": appendEntriesPlansProbeEachCall,
};
