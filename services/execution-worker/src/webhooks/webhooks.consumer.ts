import type { Bus, EventMessage, RequestContext } from "@galaxy/bus";
import { inWorkspace, type Kysely } from "@galaxy/db";
import type { Logger } from "@galaxy/observability";
import type { ExecutionDb } from "../db";
import { findExecution } from "../executions/executions.repository";
import type { ExecutionService } from "../executions/executions.service";

/** The durable consumer that turns accepted webhook deliveries into executions. */
export const WEBHOOK_CONSUMER = "execution-worker-webhooks";
export const WEBHOOK_EVENTS = "evt.*.webhook.received";

export interface WebhookIntakeDeps {
  db: Kysely<ExecutionDb>;
  bus: Bus;
  executions: ExecutionService;
  logger: Logger;
}

/**
 * Starts the execution of each `webhook.received` once (CONTRACT §2): with the id the gateway
 * answered the sender (derived from trigger and `webhook-id`), `trigger: {type: "webhook", id}`
 * and the delivery's JSON body as input, through the same intake as `execution.start` (so it
 * is `queued` with its `execution.queued` event). A copy of a delivery already started changes
 * nothing, whenever it comes: the execution id is the key.
 *
 * The work is the worker's own (the delivery may be applied long after the gateway's claim
 * expired, on a redelivery or a replay), so it acts with the worker's service claim for the
 * delivery's workspace. A delivery that can never start (its agent deleted, paused since, or
 * its body failing the agent's `inputSchema`) is refused by the intake and dead-lettered, for
 * an operator to redrive once the agent runs again.
 */
export function webhookIntakeHandler(deps: WebhookIntakeDeps): (message: EventMessage) => Promise<void> {
  const { db, bus, executions, logger } = deps;
  return async (message) => {
    const { event } = message;
    if (event.type !== "webhook.received") return;
    const delivery = event.data;
    const workspaceId = event.workspaceId;
    const existing = await inWorkspace(db, workspaceId, (tx) => findExecution(tx, delivery.executionId));
    if (existing) return;
    const claimToken = await bus.serviceClaims.get(workspaceId);
    const claim = await bus.claims.verify(claimToken, { checkExpiry: true });
    const ctx: RequestContext = {
      claim,
      correlationId: message.headers.correlationId,
      traceparent: message.headers.traceparent,
      clientIp: message.headers.clientIp,
      userAgent: message.headers.userAgent,
      requester: undefined,
      logger: logger.child({ triggerId: delivery.triggerId, executionId: delivery.executionId }),
      eventContext: () => message.derivedContext(claimToken),
    };
    await executions.start({ agentId: delivery.agentId, input: delivery.body ?? null, trigger: { type: "webhook", id: delivery.triggerId }, executionId: delivery.executionId }, ctx);
  };
}
