import type { Bus, RequestContext } from "@galaxy/bus";
import { authorize, ForbiddenError, GalaxyError, principalOf, type ToolSecretReply } from "@galaxy/contracts";
import { webhookToolSecret } from "./tool-secret";

/**
 * Serves `execution.tools.secret` (`GET /api/agents/{id}/tool-secret`): the secret an agent's
 * webhook tools verify Galaxy's calls with. The registry is asked for the agent with the
 * caller's own claim, so an agent of another workspace is its 404 (and its
 * `security.cross_workspace_attempt`) before any role is checked; then only an admin or owner
 * (`credentials.manage`) gets the secret.
 */
export function serveToolSecret(bus: Bus, masterKey: string | undefined): void {
  bus.serve("execution.tools.secret", async (request, ctx) => toolSecret(bus, masterKey, request.agentId, ctx));
}

async function toolSecret(bus: Bus, masterKey: string | undefined, agentId: string, ctx: RequestContext): Promise<ToolSecretReply> {
  const claim = ctx.claim;
  if (!claim) throw new Error("the bus let a request without a claim through");
  const agent = await bus.request("registry.agents.get", { id: agentId }, {
    claim: ctx.eventContext().claim,
    workspaceId: claim.ws,
    traceparent: ctx.traceparent,
    correlationId: ctx.correlationId,
    clientIp: ctx.clientIp,
    userAgent: ctx.userAgent,
  });
  if (agent.workspaceId !== claim.ws) throw new Error("the registry answered for another workspace");
  if (!authorize(principalOf(claim), "credentials.manage")) throw new ForbiddenError("Only an admin or owner may read an agent's webhook tool secret");
  if (!masterKey) throw new GalaxyError(503, "webhook_tools_not_configured", "Webhook tools are not configured on this worker (GALAXY_MASTER_KEY is not set)", { retryable: false });
  return { agentId: agent.id, secret: webhookToolSecret(masterKey, claim.ws, agent.id) };
}
