import { sql, type Transaction } from "@galaxy/db";
import type { ExecutionDb } from "../db";
import { monthOf, type Tier } from "./tiers";

/**
 * Writes a workspace's tier row and answers it. Unrecorded: tier-admin.ts records an operator's
 * change with it; tests and benchmarks call it alone.
 */
export async function setTier(tx: Transaction<ExecutionDb>, workspaceId: string, tier: Tier): Promise<{ tier: string; updated_at: Date }> {
  const now = new Date();
  return tx
    .insertInto("workspace_tiers")
    .values({ workspace_id: workspaceId, tier, updated_at: now })
    .onConflict((oc) => oc.column("workspace_id").doUpdateSet({ tier, updated_at: now }))
    .returning(["tier", "updated_at"])
    .executeTakeFirstOrThrow();
}

/**
 * Adds a finished execution's tokens to its workspace's month. Call only in the transaction
 * that records the execution's end (which succeeds once), so a retry or a redelivery never
 * counts an execution twice.
 */
export async function addUsage(tx: Transaction<ExecutionDb>, workspaceId: string, at: Date, tokens: number): Promise<void> {
  await tx
    .insertInto("workspace_usage")
    .values({ workspace_id: workspaceId, month: monthOf(at), tokens, executions: 1 })
    .onConflict((oc) =>
      oc.columns(["workspace_id", "month"]).doUpdateSet({ tokens: sql<number>`workspace_usage.tokens + excluded.tokens`, executions: sql<number>`workspace_usage.executions + 1` }),
    )
    .execute();
}

