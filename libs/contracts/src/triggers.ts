import { z } from "zod";
import { AgentStatus, JsonSchemaDoc } from "./agents";
import { IsoDateTime, Uuid, WorkspaceId } from "./ids";
import { PageQuery } from "./pagination";
import { deliveryExecutionId } from "./webhook-deliveries";

/** What starts an agent's executions besides a person: a signed webhook, or a cron schedule. */
export const TriggerKind = z.enum(["webhook", "schedule"]);
export type TriggerKind = z.infer<typeof TriggerKind>;

/** A cron expression: five fields, or six with seconds first (`*\/2 * * * * *`). Checked again by the registry. */
export const CronExpression = z
  .string()
  .trim()
  .min(9)
  .max(200)
  .refine((value) => /^\S+(\s+\S+){4,5}$/.test(value), "must have 5 fields, or 6 with seconds first");
export type CronExpression = z.infer<typeof CronExpression>;

/** An IANA time zone name (`Europe/Paris`); the registry checks it is one the runtime knows. */
export const TimeZone = z.string().min(1).max(64).regex(/^[A-Za-z0-9_+\-/]+$/, "must be an IANA time zone such as Europe/Paris");
export type TimeZone = z.infer<typeof TimeZone>;

export const CreateTriggerBody = z.discriminatedUnion("type", [
  z.object({ type: z.literal("webhook") }).strict(),
  z
    .object({
      type: z.literal("schedule"),
      cron: CronExpression,
      /** Default `UTC`. */
      timezone: TimeZone.optional(),
      /** The input of every execution the schedule starts (default null). */
      input: z.unknown().optional(),
    })
    .strict(),
]);
export type CreateTriggerBody = z.infer<typeof CreateTriggerBody>;

/** A trigger as the API shows it: never its secret (which `CreatedTrigger` and `RotatedTriggerSecret` show once). */
export const Trigger = z.object({
  id: Uuid,
  type: TriggerKind,
  agentId: Uuid,
  workspaceId: WorkspaceId,
  /** Webhook triggers: where deliveries go, `/hooks/{id}`; null for schedules. */
  url: z.string().nullable(),
  /** Schedule triggers: the cron expression and its time zone; null for webhooks. */
  cron: z.string().nullable(),
  timezone: z.string().nullable(),
  input: z.unknown(),
  createdBy: z.string(),
  createdAt: IsoDateTime,
  /**
   * Schedule triggers, as listed and created: when the schedule fires next, in its time zone's
   * rules (daylight saving included), and the next `SCHEDULE_NEXT_RUNS` ticks; null and empty
   * while the agent is not active (it does not tick), and for webhooks. Not in events.
   */
  nextRunAt: IsoDateTime.nullable().optional().describe("When the schedule fires next; null while its agent is not active, and for webhooks"),
  nextRuns: z.array(IsoDateTime).optional().describe("The schedule's next ticks, soonest first (at most 3); empty while its agent is not active, and for webhooks"),
});
export type Trigger = z.infer<typeof Trigger>;

/** How many upcoming ticks a schedule trigger lists (`nextRuns`). */
export const SCHEDULE_NEXT_RUNS = 3;

/** The answer to creating a trigger: a webhook trigger's secret (`whsec_…`) appears here and nowhere else. */
export const CreatedTrigger = Trigger.extend({ secret: z.string().optional() });
export type CreatedTrigger = z.infer<typeof CreatedTrigger>;

export const RotatedTriggerSecret = Trigger.extend({
  secret: z.string(),
  /** Until then, deliveries signed with the secret before this one are still accepted (24 h). */
  previousSecretExpiresAt: IsoDateTime,
});
export type RotatedTriggerSecret = z.infer<typeof RotatedTriggerSecret>;

export const AgentTriggerParams = z.object({ id: Uuid });
export type AgentTriggerParams = z.infer<typeof AgentTriggerParams>;
export const TriggerParams = z.object({ id: Uuid, triggerId: Uuid });
export type TriggerParams = z.infer<typeof TriggerParams>;

export const CreateTriggerRequest = z.object({ agentId: Uuid, trigger: CreateTriggerBody }).strict();
export type CreateTriggerRequest = z.infer<typeof CreateTriggerRequest>;
export const ListTriggersRequest = PageQuery.extend({ agentId: Uuid }).strict();
export type ListTriggersRequest = z.infer<typeof ListTriggersRequest>;
export const TriggerRef = z.object({ agentId: Uuid, triggerId: Uuid }).strict();
export type TriggerRef = z.infer<typeof TriggerRef>;

/** `registry.triggers.resolve`: the gateway's question about a webhook delivery's trigger. */
export const ResolveTriggerRequest = z.object({ triggerId: Uuid }).strict();
export type ResolveTriggerRequest = z.infer<typeof ResolveTriggerRequest>;

/**
 * What a delivery needs to know of its webhook trigger: the workspace it names, its agent's
 * status, and every secret that verifies now (the current one, and the previous one for 24 h
 * after a rotation).
 */
export const ResolvedTrigger = z.object({
  triggerId: Uuid,
  workspaceId: WorkspaceId,
  agentId: Uuid,
  agentStatus: AgentStatus,
  secrets: z.array(z.string()).min(1).max(2),
  /** When the previous secret stops verifying; the gateway caches the answer no longer than that. */
  validUntil: IsoDateTime.nullable(),
  /**
   * The agent's current version and its `inputSchema`: a body that fails it is refused before
   * the 202. A registry older than the gateway answers neither: nothing is checked then.
   */
  agentVersion: z.number().int().min(0).default(0),
  inputSchema: JsonSchemaDoc.nullable().default(null),
});
export type ResolvedTrigger = z.infer<typeof ResolvedTrigger>;

export const TriggerCreated = z.object({ trigger: Trigger });
export type TriggerCreated = z.infer<typeof TriggerCreated>;

export const TriggerDeleted = z.object({ triggerId: Uuid, agentId: Uuid, type: TriggerKind });
export type TriggerDeleted = z.infer<typeof TriggerDeleted>;

export const TriggerSecretRotated = z.object({ triggerId: Uuid, agentId: Uuid, previousSecretExpiresAt: IsoDateTime });
export type TriggerSecretRotated = z.infer<typeof TriggerSecretRotated>;

/**
 * A signed webhook delivery the gateway accepted (docs/webhooks.md). The stream is the inbox: the
 * execution-worker creates execution `executionId` from it, once however many copies arrive.
 */
export const WebhookReceived = z.object({
  triggerId: Uuid,
  agentId: Uuid,
  /** The sender's `webhook-id`. */
  webhookId: z.string().min(1).max(255),
  /** UUIDv5 of the `webhook-id` in the trigger's namespace: the same for every copy of a delivery. */
  executionId: Uuid,
  /** The delivery's JSON body: the execution's input. */
  body: z.unknown(),
  /** SHA-256 (hex) and size in bytes of the raw body, which the audit entry records instead of the body. */
  bodySha256: z.string().regex(/^[0-9a-f]{64}$/),
  bodySize: z.number().int().min(0),
  /** The delivery's headers that matter: webhook-id, webhook-timestamp, content-type, user-agent. */
  headers: z.record(z.string(), z.string()),
  receivedAt: IsoDateTime,
}).refine((delivery) => delivery.executionId === deliveryExecutionId(delivery.triggerId, delivery.webhookId), {
  path: ["executionId"],
  message: "must be the delivery's execution id: UUIDv5 of its webhookId in the trigger's namespace",
  // Only once every field passed its own checks: a triggerId that is no UUID has no namespace to derive from.
  when: (payload) => payload.issues.length === 0,
});
export type WebhookReceived = z.infer<typeof WebhookReceived>;
