import { z } from "zod";
import { ExecutionStatus } from "./executions";
import { IsoDateTime, Uuid } from "./ids";

/**
 * One delivery to a webhook trigger as the gateway answered it (docs/webhooks.md, Deliveries):
 * accepted (202, with the execution it starts) or refused (its status and error code).
 */
export const TriggerDeliveryOutcome = z.enum(["accepted", "refused"]);
export type TriggerDeliveryOutcome = z.infer<typeof TriggerDeliveryOutcome>;

export const TriggerDelivery = z.object({
  seq: z.number().int().min(1).describe("The delivery's number within its trigger, newest highest"),
  receivedAt: IsoDateTime,
  webhookId: z.string().nullable().describe("The delivery's `webhook-id` header, when it had one"),
  outcome: TriggerDeliveryOutcome,
  httpStatus: z.number().int().describe("What the gateway answered: 202, or the refusal's status"),
  code: z.string().nullable().describe("The refusal's error code (docs/errors.md): `invalid_webhook_signature`, `webhook_rate_limited`…; null when accepted"),
  executionId: Uuid.nullable().describe("The execution an accepted delivery starts"),
  executionStatus: ExecutionStatus.nullable().describe("That execution's status now; null while the worker has not created it yet, or when refused"),
});
export type TriggerDelivery = z.infer<typeof TriggerDelivery>;

/** The deliveries each trigger keeps (the newest), and for how long after its last one. */
export const TRIGGER_DELIVERIES_KEPT = 200;
export const TRIGGER_DELIVERIES_TTL_S = 7 * 24 * 3600;
