import { v5 as uuidv5 } from "uuid";

/**
 * The ids a signed webhook delivery gets (docs/webhooks.md, "Deliveries"), derived from the
 * trigger and the sender's `webhook-id` so that every copy of a delivery gets the same: the
 * gateway answers the same execution id to a repeat, JetStream drops a repeat inside its
 * duplicate window by the event's id (`Nats-Msg-Id`), and the execution-worker creates the
 * execution once however many copies reach it.
 */

/** Namespace of the ids of `webhook.received` events. */
const DELIVERY_EVENT_NAMESPACE = "9a3c1e0b-5d7f-4b2a-8e61-3f4d2c1b0a97";

/** The execution a delivery starts: UUIDv5 of its `webhook-id` in the trigger's namespace (the trigger id). */
export function deliveryExecutionId(triggerId: string, webhookId: string): string {
  return uuidv5(webhookId, triggerId);
}

/** The id (and `Nats-Msg-Id`) of a delivery's `webhook.received` event: UUIDv5 of trigger and `webhook-id`. */
export function deliveryEventId(triggerId: string, webhookId: string): string {
  return uuidv5(`${triggerId}:${webhookId}`, DELIVERY_EVENT_NAMESPACE);
}
