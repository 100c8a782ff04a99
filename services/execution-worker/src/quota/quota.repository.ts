import { sql, type Kysely, type Transaction } from "@galaxy/db";
import type { ExecutionDb } from "../db";
import { DEFAULT_TIER, monthOf, Tier, TIERS } from "./tiers";

type Db = Kysely<ExecutionDb> | Transaction<ExecutionDb>;

/** The workspace's tier; `free` when none was set. Call inside the workspace's transaction. */
export async function tierOf(db: Db, workspaceId: string): Promise<Tier> {
  const row = await db.selectFrom("workspace_tiers").select("tier").where("workspace_id", "=", workspaceId).executeTakeFirst();
  return row ? Tier.parse(row.tier) : DEFAULT_TIER;
}

/** Sets a workspace's tier (operators; tests). */
export async function setTier(tx: Transaction<ExecutionDb>, workspaceId: string, tier: Tier): Promise<void> {
  await tx
    .insertInto("workspace_tiers")
    .values({ workspace_id: workspaceId, tier, updated_at: new Date() })
    .onConflict((oc) => oc.column("workspace_id").doUpdateSet({ tier, updated_at: new Date() }))
    .execute();
}

/** Tokens the workspace used in `at`'s month. */
export async function tokensUsed(db: Db, workspaceId: string, at: Date): Promise<number> {
  const row = await db.selectFrom("workspace_usage").select("tokens").where("workspace_id", "=", workspaceId).where("month", "=", sql<Date>`${monthOf(at)}::date`).executeTakeFirst();
  return row ? Number(row.tokens) : 0;
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

/** Executions of the workspace waiting in the queue. */
export async function queuedCount(db: Db, workspaceId: string): Promise<number> {
  const row = await db
    .selectFrom("executions")
    .select((eb) => eb.fn.countAll<string>().as("n"))
    .where("workspace_id", "=", workspaceId)
    .where("status", "=", "queued")
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Tokens the workspace may still use in `at`'s month under its tier (0 when spent). */
export async function remainingTokens(db: Db, workspaceId: string, at: Date): Promise<number> {
  const [tier, used] = await Promise.all([tierOf(db, workspaceId), tokensUsed(db, workspaceId, at)]);
  return Math.max(0, TIERS[tier].monthlyTokens - used);
}
