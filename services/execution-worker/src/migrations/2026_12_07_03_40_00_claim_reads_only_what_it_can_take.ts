import { sql, type Kysely } from "kysely";
import { claimQuery } from "./2026_12_05_22_20_00_claim_counts_running";
import { createClaimFunction, up as claimAsBefore } from "./2026_12_06_01_30_00_claim_keeps_its_plan";

/**
 * The claim reads only what it can take (docs/benchmarks.md, "The claim reads only what it can
 * take"). Under the sustained benchmark, with 1,500 executions of one workspace queued, a claim
 * touched about 440 buffers:
 * - It finds the workspaces with queued executions by skipping through
 *   `executions_queued_by_workspace`, one probe per workspace. But the claim keeps its plan for
 *   the session (docs/decisions/0025), planned while few executions were queued, and Postgres
 *   planned the probes on `executions_queued` (status, created_at) instead: each probe read
 *   every queued execution and its row, then sorted them by workspace. No statement needs
 *   `executions_queued` since the claim ranks queue heads by workspace (migration
 *   `2026_12_05_03_10_00`): it goes, and every write of a queued execution maintains one index
 *   fewer.
 * - It read as many of a workspace's oldest queued executions as the workspace had free slots
 *   (49 of 50), where no more than the claim's limit can be taken from one workspace; and it
 *   counted the workspace's running executions again for each of them. It now reads at most
 *   the claim's limit, and counts once.
 * What it hands out, and in which order, is unchanged.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists executions_queued`.execute(db);
  await createClaimFunction(db, claimQuery("l.running + ", { runningOnce: true, headsPerWorkspace: "least(l.free_slots, p_limit)" }));
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await claimAsBefore(db);
  await sql`create index if not exists executions_queued on executions (status, created_at) where status = 'queued'`.execute(db);
}
