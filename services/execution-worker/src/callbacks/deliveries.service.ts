import type { RequestContext } from "@galaxy/bus";
import { authorize, ForbiddenError, principalOf, type DeliveriesRequest, type ReplyData } from "@galaxy/contracts";
import { inWorkspace, reportCrossWorkspaceAttempt, type Kysely, type OutboxRelay } from "@galaxy/db";
import type { ExecutionDb } from "../db";
import { ExecutionNotFoundError } from "../errors";
import { executionExistsElsewhere, findExecution } from "../executions/executions.repository";
import { listDeliveries } from "./deliveries.list";

export interface DeliveriesServiceDeps {
  db: Kysely<ExecutionDb>;
  relay: OutboxRelay;
}

/** `execution.deliveries.list`: the completion-callback attempts of one execution (viewers and up). */
export class DeliveriesService {
  constructor(private readonly deps: DeliveriesServiceDeps) {}

  async list(request: DeliveriesRequest, ctx: RequestContext): Promise<ReplyData<"execution.deliveries.list">> {
    const claim = ctx.claim;
    if (!claim) throw new Error("the bus let a request without a claim through");
    const found = await inWorkspace(this.deps.db, claim.ws, async (tx) => {
      // Not found comes before the role check (docs/api.md).
      if (!(await findExecution(tx, request.id))) return null;
      if (!authorize(principalOf(claim), "executions.read")) throw new ForbiddenError("Your role may not read executions");
      return listDeliveries(tx, request);
    });
    if (!found) {
      await this.reportIfElsewhere(ctx, request.id);
      throw new ExecutionNotFoundError(request.id);
    }
    return found;
  }

  /** Another workspace's execution: the same 404, and a `security.cross_workspace_attempt` event. Never changes the answer. */
  private async reportIfElsewhere(ctx: RequestContext, id: string): Promise<void> {
    const { db, relay } = this.deps;
    const claim = ctx.claim;
    if (!claim) return;
    await reportCrossWorkspaceAttempt({
      db, relay, claim, eventContext: () => ctx.eventContext(), client: ctx, targetType: "execution", targetId: id, operation: "executions.deliveries", logger: ctx.logger,
      existsElsewhere: () => executionExistsElsewhere(db, id, claim.ws),
    });
  }
}
