import type { Bus } from "@galaxy/bus";
import type { TierName, WorkspaceTier } from "@galaxy/contracts";
import { operatorOptions } from "./operator";

/** `galaxy tiers show <workspace>`: the workspace's tier and what it allows. */
export async function showTier(bus: Bus, workspaceId: string): Promise<WorkspaceTier> {
  return bus.request("execution.tiers.get", { workspaceId }, await operatorOptions(bus));
}

/** `galaxy tiers set <workspace> <tier>`: recorded as `workspace.tier_changed` in the workspace's audit log. */
export async function setTier(bus: Bus, workspaceId: string, tier: TierName): Promise<WorkspaceTier> {
  return bus.request("execution.tiers.set", { workspaceId, tier }, await operatorOptions(bus));
}

export function describeTier(tier: WorkspaceTier): string {
  const { concurrency, maxQueued, monthlyTokens } = tier.limits;
  const since = tier.updatedAt ? `since ${tier.updatedAt}` : "never set: the default";
  return [
    `${tier.workspaceId} is on ${tier.tier} (${since}):`,
    `  ${concurrency} executions at once, ${maxQueued.toLocaleString("en-US")} queued, ${monthlyTokens.toLocaleString("en-US")} tokens a month (UTC).`,
  ].join("\n");
}
