import { TierName, type TierLimits } from "@galaxy/contracts";

/** A workspace's subscription tier (the names are the contracts'; the numbers are here). */
export const Tier = TierName;
export type Tier = TierName;

/**
 * What each subscription tier allows: the one place these numbers live. The scheduler reads
 * `concurrency`, intake reads `maxQueued` and `monthlyTokens`, the pipeline `monthlyTokens`.
 * A workspace without a tier (docs/executions.md says how one is set) is on `free`.
 */
export const TIERS: Readonly<Record<Tier, TierLimits>> = {
  free: { concurrency: 2, monthlyTokens: 200_000, maxQueued: 100 },
  pro: { concurrency: 10, monthlyTokens: 10_000_000, maxQueued: 1_000 },
  enterprise: { concurrency: 50, monthlyTokens: 500_000_000, maxQueued: 10_000 },
};

export const DEFAULT_TIER: Tier = "free";

/** Each tier's concurrency, as `claim_queued_executions` takes it. */
export function concurrencyByTier(): Record<Tier, number> {
  return { free: TIERS.free.concurrency, pro: TIERS.pro.concurrency, enterprise: TIERS.enterprise.concurrency };
}

/** The first day of `at`'s month (UTC), the key of a month's usage. */
export function monthOf(at: Date): string {
  return `${at.getUTCFullYear()}-${String(at.getUTCMonth() + 1).padStart(2, "0")}-01`;
}

/** Seconds from `at` until the next month begins (UTC): when a spent budget renews. */
export function secondsUntilNextMonth(at: Date): number {
  const next = Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1);
  return Math.max(1, Math.ceil((next - at.getTime()) / 1000));
}
