import { z } from "zod";
import { Agent, AgentConfig, AgentStatus } from "./agents";
import { IsoDateTime, Uuid } from "./ids";
import { CursorPageQuery, PageQuery } from "./pagination";

/** A completion-callback signing secret: `whsec_` and 32 random bytes, base64 (Standard Webhooks). */
export const NotifySecret = z.string().regex(/^whsec_[A-Za-z0-9+/]+=*$/);
export type NotifySecret = z.infer<typeof NotifySecret>;

/**
 * An agent as its create or update answer shows it: with `notifySecret` when this very
 * request issued one (a new or changed `notifyUrl`). Nothing else ever shows the secret.
 */
export const SavedAgent = Agent.extend({ notifySecret: NotifySecret.optional() });
export type SavedAgent = z.infer<typeof SavedAgent>;

/**
 * The body of `PATCH /api/agents/{id}`: some or all of the config, with the config's own
 * constraints. `null` clears an optional part (back to its default); a field left out keeps its value.
 */
export const UpdateAgentBody = AgentConfig.partial().strict();
export type UpdateAgentBody = z.infer<typeof UpdateAgentBody>;

/** `registry.agents.update`: the agent's id and the body of the PATCH. */
export const UpdateAgentRequest = z.object({ id: Uuid, changes: UpdateAgentBody }).strict();
export type UpdateAgentRequest = z.infer<typeof UpdateAgentRequest>;

/** The config a PATCH leads to: the current one with the fields the body names replaced. */
export function applyAgentUpdate(current: AgentConfig, changes: UpdateAgentBody): AgentConfig {
  const next: AgentConfig = { ...current };
  const set = <K extends keyof AgentConfig>(key: K, value: AgentConfig[K] | undefined) => {
    if (value !== undefined) next[key] = value;
  };
  for (const key of Object.keys(AgentConfig.shape) as Array<keyof AgentConfig>) set(key, changes[key]);
  return next;
}

/** One immutable version of an agent, as `GET /api/agents/{id}/versions` lists it. */
export const AgentVersion = z.object({
  version: z.number().int().min(1),
  config: AgentConfig,
  createdAt: IsoDateTime,
  createdBy: z.string(),
});
export type AgentVersion = z.infer<typeof AgentVersion>;

export const AgentVersionsRequest = PageQuery.extend({ id: Uuid }).strict();
export type AgentVersionsRequest = z.infer<typeof AgentVersionsRequest>;

/** `registry.agents.notify_secret`: the callback secret of one version of an agent (the execution worker's, with a service claim). */
export const NotifySecretRequest = z.object({ agentId: Uuid, version: z.number().int().min(1) }).strict();
export type NotifySecretRequest = z.infer<typeof NotifySecretRequest>;

export const NotifySecretReply = z.object({ notifyUrl: z.string(), notifySecret: NotifySecret });
export type NotifySecretReply = z.infer<typeof NotifySecretReply>;

/** A config change made a new version: the agent as it now is, and the config before. Never a secret. */
export const AgentUpdated = z.object({ agent: Agent, before: AgentConfig, previousVersion: z.number().int().min(1) });
export type AgentUpdated = z.infer<typeof AgentUpdated>;

export const AgentPaused = z.object({ agentId: Uuid, version: z.number().int().min(1), status: AgentStatus, before: AgentStatus });
export type AgentPaused = z.infer<typeof AgentPaused>;

export const AgentDeleted = z.object({ agentId: Uuid, version: z.number().int().min(1), status: AgentStatus, deletedAt: IsoDateTime });
export type AgentDeleted = z.infer<typeof AgentDeleted>;

// Completion callbacks (docs/api.md, GET /api/executions/{id}/deliveries).

export const CallbackDeliveryStatus = z.enum(["pending", "delivered", "failed"]);
export type CallbackDeliveryStatus = z.infer<typeof CallbackDeliveryStatus>;

/** One attempt to deliver an execution's terminal event to its agent's `notifyUrl`. */
export const CallbackDelivery = z.object({
  attempt: z.number().int().min(1),
  url: z.string(),
  status: CallbackDeliveryStatus,
  /** The receiver's HTTP status; null when there was no answer (refused, timed out, unreachable) or the attempt is still pending. */
  responseStatus: z.number().int().nullable(),
  /** When the attempt was made; for a pending one, when it is due. */
  at: IsoDateTime,
});
export type CallbackDelivery = z.infer<typeof CallbackDelivery>;

export const DeliveriesRequest = CursorPageQuery.extend({ id: Uuid }).strict();
export type DeliveriesRequest = z.infer<typeof DeliveriesRequest>;
