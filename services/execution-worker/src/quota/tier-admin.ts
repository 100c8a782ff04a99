import type { Bus, RequestContext } from "@galaxy/bus";
import { ForbiddenError, SYSTEM_WORKSPACE_ID, type WorkspaceClaim, type WorkspaceTier } from "@galaxy/contracts";
import { appendEvent, inWorkspace, type Kysely, type OutboxRelay } from "@galaxy/db";
import type { ExecutionDb } from "../db";
import { setTier } from "./quota.repository";
import { DEFAULT_TIER, Tier, TIERS } from "./tiers";

/**
 * `execution.tiers.get` and `execution.tiers.set`: a workspace's subscription tier, which only an
 * operator reads or changes (a system admin through `/api/admin/workspaces/{id}/tier`, or
 * `galaxy tiers`). A change takes effect at the next start and the next claim of queued work,
 * and is recorded as `workspace.tier_changed` in the workspace's own audit log.
 */
export class TierAdmin {
  constructor(private readonly deps: { db: Kysely<ExecutionDb>; bus: Bus; relay: OutboxRelay }) {}

  serve(): void {
    const { bus } = this.deps;
    bus.serve("execution.tiers.get", (request, ctx) => this.get(request.workspaceId, ctx));
    bus.serve("execution.tiers.set", (request, ctx) => this.set(request.workspaceId, request.tier, ctx));
  }

  async get(workspaceId: string, ctx: RequestContext): Promise<WorkspaceTier> {
    requireOperator(ctx.claim);
    const row = await inWorkspace(this.deps.db, workspaceId, (tx) => tx.selectFrom("workspace_tiers").select(["tier", "updated_at"]).where("workspace_id", "=", workspaceId).executeTakeFirst(), { readOnly: true });
    return tierOf(workspaceId, row);
  }

  /** Sets the tier; setting the one the workspace has changes nothing and records nothing. */
  async set(workspaceId: string, tier: Tier, ctx: RequestContext): Promise<WorkspaceTier> {
    const claim = requireOperator(ctx.claim);
    const { db, bus, relay } = this.deps;
    // The event is the workspace's: it carries the worker's claim for it, and the operator as its
    // actor; where the operator's request came from stays out of a tenant's log.
    const context = { ...ctx.eventContext(), claim: await bus.serviceClaims.get(workspaceId), clientIp: undefined, userAgent: undefined };
    // A workspace's first tier has no row to lock: two first changes at once take turns on TIER_LOCK.
    const outcome = await inWorkspace(db, workspaceId, async (tx) => {
      const current = await tx.selectFrom("workspace_tiers").select(["tier", "updated_at"]).where("workspace_id", "=", workspaceId).forUpdate().executeTakeFirst();
      const before = tierOf(workspaceId, current);
      if (before.tier === tier) return { tier: before, event: null };
      const row = await setTier(tx, workspaceId, tier);
      const event = await appendEvent(tx, {
        type: "workspace.tier_changed",
        workspaceId,
        actor: { type: claim.act, id: claim.sub },
        data: { workspaceId, tier, before: before.tier },
        context,
      });
      return { tier: tierOf(workspaceId, row), event };
    }, { advisoryLock: TIER_LOCK });
    if (outcome.event) relay.publishNow([outcome.event]);
    return outcome.tier;
  }
}

/** Taken by every change of a tier, so that each reads the tier the one before it set. */
const TIER_LOCK = "execution.tiers";

/** Only an operator claim of the system workspace: a system admin's, or the operator CLI's. */
function requireOperator(claim: WorkspaceClaim | null): WorkspaceClaim {
  if (claim?.act !== "operator" || claim.ws !== SYSTEM_WORKSPACE_ID) {
    throw new ForbiddenError("Only system admins and the operator CLI may read or set a workspace's tier", "system_admin_required");
  }
  return claim;
}

function tierOf(workspaceId: string, row: { tier: string; updated_at: Date } | undefined): WorkspaceTier {
  const tier = Tier.catch(DEFAULT_TIER).parse(row?.tier);
  return { workspaceId, tier, limits: TIERS[tier], updatedAt: row ? row.updated_at.toISOString() : null };
}
