import type { Bus } from "@galaxy/bus";
import { GalaxyError, type Agent } from "@galaxy/contracts";

/** Who asks the registry, and from where: the registry reports a lookup of another workspace's agent with it. */
export interface RegistryAsker {
  claim: string;
  workspaceId: string;
  traceparent: string | undefined;
  correlationId: string;
  clientIp?: string | undefined;
  userAgent?: string | undefined;
}

/** The registry's description of an agent (`registry.agents.get`); null when it has none in the asker's workspace. */
export async function fetchAgent(bus: Bus, agentId: string, asker: RegistryAsker): Promise<Agent | null> {
  try {
    const agent = await bus.request("registry.agents.get", { id: agentId }, asker);
    // A registry answering for another workspace would be a bug there; never trust it here.
    return agent.workspaceId === asker.workspaceId ? agent : null;
  } catch (error) {
    if (error instanceof GalaxyError && error.status === 404) return null;
    throw error;
  }
}
