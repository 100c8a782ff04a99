import { outboxRetentionMigration, type Migration } from "@galaxy/db";
import * as createExecutions from "./2026_11_26_00_20_00_create_executions";
import * as createExistsElsewhere from "./2026_11_26_01_50_00_create_exists_elsewhere";
import * as createCallbackDeliveries from "./2026_11_26_10_10_00_create_callback_deliveries";
import * as createExecutionEvents from "./2026_11_26_13_00_00_create_execution_events";
import * as quotasCancelFairClaim from "./2026_11_26_13_10_00_quotas_cancel_fair_claim";
import * as createReplayHolds from "./2026_11_26_16_10_00_create_replay_holds";
import * as indexExecutionsByTriggerType from "./2026_12_05_01_10_00_index_executions_by_trigger_type";
import * as tracingAndQueueDepth from "./2026_12_05_01_20_00_tracing_and_queue_depth";
import * as claimRanksQueueHeads from "./2026_12_05_03_10_00_claim_ranks_queue_heads";
import * as claimCountsRunning from "./2026_12_05_22_20_00_claim_counts_running";
import * as claimKeepsItsPlan from "./2026_12_06_01_30_00_claim_keeps_its_plan";
import * as runWritesKeepTheirPlans from "./2026_12_06_05_40_00_run_writes_keep_their_plans";
import * as intakeKeepsItsPlans from "./2026_12_06_06_00_00_intake_keeps_its_plans";
import * as runLoadKeepsItsPlan from "./2026_12_06_06_20_00_run_load_keeps_its_plan";
import * as runEndCarriesStartAndCallback from "./2026_12_06_13_40_00_run_end_carries_start_and_callback";
import * as intakeWritesForeseenStarts from "./2026_12_06_18_10_00_intake_writes_foreseen_starts";
import * as claimReadsOnlyWhatItCanTake from "./2026_12_07_03_40_00_claim_reads_only_what_it_can_take";

/** This service's migrations in order; frozen once landed. */
export const migrations: Record<string, Migration> = {
  "2026_11_26_00_20_00_create_executions": createExecutions,
  "2026_11_26_01_50_00_create_exists_elsewhere": createExistsElsewhere,
  "2026_11_26_10_10_00_create_callback_deliveries": createCallbackDeliveries,
  "2026_11_26_13_00_00_create_execution_events": createExecutionEvents,
  "2026_11_26_13_10_00_quotas_cancel_fair_claim": quotasCancelFairClaim,
  "2026_11_26_16_10_00_create_replay_holds": createReplayHolds,
  "2026_12_05_01_10_00_index_executions_by_trigger_type": indexExecutionsByTriggerType,
  "2026_12_05_01_20_00_tracing_and_queue_depth": tracingAndQueueDepth,
  "2026_12_05_03_10_00_claim_ranks_queue_heads": claimRanksQueueHeads,
  "2026_12_05_22_20_00_claim_counts_running": claimCountsRunning,
  "2026_12_06_01_30_00_claim_keeps_its_plan": claimKeepsItsPlan,
  "2026_12_06_05_40_00_run_writes_keep_their_plans": runWritesKeepTheirPlans,
  "2026_12_06_06_00_00_intake_keeps_its_plans": intakeKeepsItsPlans,
  "2026_12_06_06_20_00_run_load_keeps_its_plan": runLoadKeepsItsPlan,
  "2026_12_06_07_40_00_outbox_keeps_recent_rows": outboxRetentionMigration("execution-worker"),
  "2026_12_06_13_40_00_run_end_carries_start_and_callback": runEndCarriesStartAndCallback,
  "2026_12_06_18_10_00_intake_writes_foreseen_starts": intakeWritesForeseenStarts,
  "2026_12_07_03_40_00_claim_reads_only_what_it_can_take": claimReadsOnlyWhatItCanTake,
};
