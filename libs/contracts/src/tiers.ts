import { z } from "zod";
import { IsoDateTime, SYSTEM_WORKSPACE_ID, WorkspaceId } from "./ids";

/** A workspace's subscription tier: what it may run at once, keep queued and spend a month (docs/executions.md). */
export const TierName = z.enum(["free", "pro", "enterprise"]);
export type TierName = z.infer<typeof TierName>;

/** What a tier allows; the numbers live in the execution worker, which enforces them. */
export const TierLimits = z.object({
  /** Executions of the workspace running at once, across every worker instance. */
  concurrency: z.number().int().positive(),
  /** Executions the workspace may have queued; a start beyond it is a 429. */
  maxQueued: z.number().int().positive(),
  /** Model tokens (input + output) per calendar month, UTC. */
  monthlyTokens: z.number().int().positive(),
});
export type TierLimits = z.infer<typeof TierLimits>;

/** A workspace other than the system workspace, which runs no executions. */
const TenantWorkspaceId = WorkspaceId.refine((id) => id !== SYSTEM_WORKSPACE_ID, "must not be the system workspace");

/** A workspace's tier as the worker enforces it; `updatedAt` is null for a workspace never given one (`free`). */
export const WorkspaceTier = z.object({
  workspaceId: WorkspaceId,
  tier: TierName,
  limits: TierLimits,
  updatedAt: IsoDateTime.nullable(),
});
export type WorkspaceTier = z.infer<typeof WorkspaceTier>;

/** `execution.tiers.get`. */
export const WorkspaceTierRef = z.object({ workspaceId: TenantWorkspaceId }).strict();

/** The body of `PUT /api/admin/workspaces/{id}/tier`. */
export const SetTierBody = z.object({ tier: TierName }).strict();

/** `execution.tiers.set`. */
export const SetWorkspaceTierRequest = WorkspaceTierRef.extend(SetTierBody.shape).strict();

/** `workspace.tier_changed`, in the workspace whose tier changed: who changed it is the event's actor. */
export const WorkspaceTierChanged = z.object({ workspaceId: WorkspaceId, tier: TierName, before: TierName });
export type WorkspaceTierChanged = z.infer<typeof WorkspaceTierChanged>;

/**
 * The Redis hash of workspace id → tier that the gateway's rate limiter reads beside its counts
 * (docs/api.md, Rate limits; docs/decisions/0014): a copy of the worker's tier, which setting a
 * tier through the API or the CLI writes too. A workspace without a field is `free`.
 */
export const RATE_TIERS_KEY = "ratelimit:tiers";
