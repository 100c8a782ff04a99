import { v7 as uuidv7 } from "uuid";
import type { Agent } from "@galaxy/contracts";
import type { Bus } from "@galaxy/bus";
import { incomingTraceparent } from "@galaxy/testkit";
import { fetchAgent } from "../../src/agents/registry-agent";
import type { BatchOrder } from "../../src/executions/batch-intake";
import { WORKER_ACTOR } from "../../src/executions/step-log";

/** One webhook delivery's start, as the worker's webhook consumer hands it to the batch intake. */
export async function webhookOrder(bus: Bus, agent: Agent, input: unknown): Promise<BatchOrder> {
  const workspaceId = agent.workspaceId;
  const claim = await bus.serviceClaims.get(workspaceId);
  const correlationId = uuidv7();
  const context = { claim, traceparent: incomingTraceparent(), correlationId, causationId: correlationId };
  return {
    workspaceId,
    agentId: agent.id,
    input,
    trigger: { type: "webhook", id: uuidv7() },
    executionId: uuidv7(),
    principal: null,
    actor: WORKER_ACTOR,
    context,
    askRegistry: () => fetchAgent(bus, agent.id, { claim, workspaceId, traceparent: context.traceparent, correlationId }),
  };
}
