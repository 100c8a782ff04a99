import type { Bus, EventMessage } from "@galaxy/bus";
import { fetchAgent } from "../agents/registry-agent";
import type { Intake } from "../executions/intake";
import { WORKER_ACTOR } from "../executions/step-log";

/** The durable consumer that turns accepted webhook deliveries into executions. */
export const WEBHOOK_CONSUMER = "execution-worker-webhooks";
export const WEBHOOK_EVENTS = "evt.*.webhook.received";

export interface WebhookIntakeDeps {
  bus: Bus;
  intake: Intake;
}

/**
 * Starts the execution of each `webhook.received` once (docs/webhooks.md): with the id the
 * gateway answered the sender (derived from trigger and `webhook-id`), `trigger: {type:
 * "webhook", id}` and the delivery's JSON body as input, through the intake every start goes
 * through (so it is `queued` with its `execution.queued` event, or taken at once). A copy of a
 * delivery already started changes nothing, whenever it comes: the execution id is the key.
 *
 * The work is the worker's own (the delivery may be applied long after the gateway's claim
 * expired, on a redelivery or a replay): no member's role to check, and its events carry the
 * worker's service claim for the delivery's workspace. A delivery that can never start (its
 * agent deleted, paused since, or its body failing the agent's `inputSchema`) is refused by
 * the intake and dead-lettered, for an operator to redrive once the agent runs again.
 */
export function webhookIntakeHandler(deps: WebhookIntakeDeps): (message: EventMessage) => Promise<void> {
  const { bus, intake } = deps;
  return async (message) => {
    const { event } = message;
    if (event.type !== "webhook.received") return;
    const delivery = event.data;
    const workspaceId = event.workspaceId;
    const claim = await bus.serviceClaims.get(workspaceId);
    const context = message.derivedContext(claim);
    await intake.start({
      workspaceId,
      agentId: delivery.agentId,
      input: delivery.body ?? null,
      trigger: { type: "webhook", id: delivery.triggerId },
      executionId: delivery.executionId,
      principal: null,
      actor: WORKER_ACTOR,
      context,
      askRegistry: () => fetchAgent(bus, delivery.agentId, { claim, workspaceId, traceparent: context.traceparent, correlationId: context.correlationId }),
    });
  };
}
