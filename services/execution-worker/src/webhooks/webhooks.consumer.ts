import type { BatchRefusal, Bus, EventMessage } from "@galaxy/bus";
import { fetchAgent } from "../agents/registry-agent";
import type { BatchIntake, BatchOrder } from "../executions/batch-intake";
import { WORKER_ACTOR } from "../executions/step-log";

/** The durable consumer that turns accepted webhook deliveries into executions. */
export const WEBHOOK_CONSUMER = "execution-worker-webhooks";
export const WEBHOOK_EVENTS = "evt.*.webhook.received";
/**
 * Most deliveries taken in at once; a batch takes what is waiting without waiting for more
 * (a lone delivery starts at once), and a burst makes its own batches: what arrives while one
 * is written is the next.
 */
export const WEBHOOK_BATCH = 256;
export const WEBHOOK_LINGER_MS = 0;

export interface WebhookIntakeDeps {
  bus: Bus;
  intake: BatchIntake;
}

/**
 * Starts the execution of each `webhook.received` once (docs/webhooks.md): with the id the
 * gateway answered the sender (derived from trigger and `webhook-id`), `trigger: {type:
 * "webhook", id}` and the delivery's JSON body as input. The deliveries waiting are taken in
 * together (`bus.consumeBatch`): their executions are written in one transaction by the batch
 * intake, so a burst from one workspace is queued in a few transactions and another
 * workspace's delivery behind it waits for those, not for thousands; the fair claim then runs
 * it before the burst. A copy of a delivery already started changes nothing, whenever it comes:
 * the execution id is the key.
 *
 * The work is the worker's own (the delivery may be applied long after the gateway's claim
 * expired, on a redelivery or a replay): no member's role to check, and its events carry the
 * worker's service claim for the delivery's workspace. A delivery that can never start (its
 * agent deleted, paused since, its body failing the agent's `inputSchema` of a version newer
 * than the one the gateway checked it against, or its workspace's quota) is refused alone and
 * dead-lettered, for an operator to redrive; the rest of its batch is started.
 */
export function webhookIntakeHandler(deps: WebhookIntakeDeps): (messages: EventMessage[]) => Promise<BatchRefusal[]> {
  const { bus, intake } = deps;
  return async (messages) => {
    const orders: BatchOrder[] = [];
    const sources: EventMessage[] = [];
    const claims = new Map<string, string>();
    for (const message of messages) {
      const { event } = message;
      if (event.type !== "webhook.received") continue;
      const delivery = event.data;
      const workspaceId = event.workspaceId;
      let claim = claims.get(workspaceId);
      if (claim === undefined) {
        claim = await bus.serviceClaims.get(workspaceId);
        claims.set(workspaceId, claim);
      }
      const asker = claim;
      const context = message.derivedContext(asker);
      orders.push({
        workspaceId,
        agentId: delivery.agentId,
        input: delivery.body ?? null,
        trigger: { type: "webhook", id: delivery.triggerId },
        executionId: delivery.executionId,
        principal: null,
        actor: WORKER_ACTOR,
        context,
        askRegistry: () => fetchAgent(bus, delivery.agentId, { claim: asker, workspaceId, traceparent: context.traceparent, correlationId: context.correlationId }),
      });
      sources.push(message);
    }
    const outcomes = await intake.startAll(orders);
    const refusals: BatchRefusal[] = [];
    for (const [index, error] of outcomes.entries()) {
      const message = sources[index];
      if (error && message) refusals.push({ message, error });
    }
    return refusals;
  };
}
