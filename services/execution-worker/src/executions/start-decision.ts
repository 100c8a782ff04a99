import { authorize, ForbiddenError, type AgentConfig, type GalaxyError, type Principal } from "@galaxy/contracts";
import type { PinnableAgent } from "../agents/agents.repository";
import { AgentNotActiveError, AgentNotFoundError } from "../errors";

/** What to do with a start, given what is known of the agent. */
export type StartDecision =
  | { kind: "enqueue"; version: number; config: AgentConfig }
  | { kind: "ask_registry" }
  | { kind: "reject"; error: GalaxyError };

/**
 * Decides a start. `authoritative` is true when the agent comes from the registry itself: the
 * projection may lag the registry (its event may not have reached the worker yet), so only
 * the registry's answer may refuse a missing or inactive agent. A missing agent is a 404
 * before any role is checked (docs/errors.md). A `principal` of null is the worker's own work
 * (a webhook delivery, a re-run): no role to check.
 */
export function decideStart(agentId: string, agent: PinnableAgent | null, principal: Principal | null, authoritative: boolean): StartDecision {
  if (!agent || agent.deleted) return authoritative ? { kind: "reject", error: new AgentNotFoundError(agentId) } : { kind: "ask_registry" };
  if (principal && !authorize(principal, "executions.start")) return { kind: "reject", error: new ForbiddenError("Your role may not start executions") };
  if (agent.status !== "active") return authoritative ? { kind: "reject", error: new AgentNotActiveError(agentId, agent.status) } : { kind: "ask_registry" };
  if (!agent.config) return { kind: "ask_registry" };
  return { kind: "enqueue", version: agent.version, config: agent.config };
}
