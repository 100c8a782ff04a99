import type { MessageContext, RequestContext } from "@galaxy/bus";
import { SYSTEM_WORKSPACE_ID, type EventActor } from "@galaxy/contracts";
import { SERVICE_CLAIM_TTL_S, type SigningKeys } from "../keys/signing-keys";

/** Who the CLI's operations are recorded as: the operator program, whose NATS user alone may ask. */
export const CLI_OPERATOR = "galaxy-cli";

export const OPERATOR_ACTOR: EventActor = { type: "operator", id: CLI_OPERATOR };

/**
 * The context of a system-workspace event caused by an operator request: an operator claim
 * for the system workspace (`act: "operator"`, `sub: "galaxy-cli"`), and the request's trace.
 */
export async function operatorEventContext(keys: SigningKeys, ctx: RequestContext): Promise<MessageContext> {
  const { claim } = await keys.signClaim({
    workspaceId: SYSTEM_WORKSPACE_ID,
    sub: CLI_OPERATOR,
    act: "operator",
    role: "admin",
    expiresAt: Math.floor(Date.now() / 1000) + SERVICE_CLAIM_TTL_S,
  });
  return {
    claim,
    traceparent: ctx.traceparent,
    correlationId: ctx.correlationId,
    causationId: ctx.correlationId,
    clientIp: ctx.clientIp,
    userAgent: ctx.userAgent,
  };
}
