import { Redis } from "ioredis";
import type { Bus } from "@galaxy/bus";
import { RATE_TIERS_KEY, type TierName, type WorkspaceTier } from "@galaxy/contracts";
import { CliFailure } from "../config";
import { operatorOptions } from "./operator";

/** `galaxy tiers show <workspace>`: the workspace's tier and what it allows. */
export async function showTier(bus: Bus, workspaceId: string): Promise<WorkspaceTier> {
  return bus.request("execution.tiers.get", { workspaceId }, await operatorOptions(bus));
}

/**
 * `galaxy tiers set <workspace> <tier>`: the worker's tier (recorded as `workspace.tier_changed`
 * in the workspace's audit log), then the API rate limits' copy in the gateways' Redis, as
 * `PUT /api/admin/workspaces/{id}/tier` does. Run again after a failure: both are set again.
 */
export async function setTier(bus: Bus, rateTiers: Pick<Redis, "hset">, workspaceId: string, tier: TierName): Promise<WorkspaceTier> {
  const set = await bus.request("execution.tiers.set", { workspaceId, tier }, await operatorOptions(bus));
  try {
    await rateTiers.hset(RATE_TIERS_KEY, set.workspaceId, set.tier);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new CliFailure(`The tier is set for executions, but the API rate limits' copy in Redis is not (${reason}): check REDIS_URL and run the command again`, "rate_tier_not_set", { cause: error });
  }
  return set;
}

/** A connection to the gateways' Redis for one command, failing fast when it is out of reach. */
export async function withRateTiers<T>(redisUrl: string, work: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 3_000, retryStrategy: () => null });
  // The command's own call fails with the same error, and says it; the event would only be printed.
  redis.on("error", () => undefined);
  try {
    return await work(redis);
  } finally {
    redis.disconnect();
  }
}

export function describeTier(tier: WorkspaceTier): string {
  const { concurrency, maxQueued, monthlyTokens } = tier.limits;
  const since = tier.updatedAt ? `since ${tier.updatedAt}` : "never set: the default";
  return [
    `${tier.workspaceId} is on ${tier.tier} (${since}):`,
    `  ${concurrency} executions at once, ${maxQueued.toLocaleString("en-US")} queued, ${monthlyTokens.toLocaleString("en-US")} tokens a month (UTC).`,
  ].join("\n");
}
