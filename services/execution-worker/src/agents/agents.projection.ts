import { TerminalMessageError, type EventMessage } from "@galaxy/bus";
import type { TypedEvent } from "@galaxy/contracts";
import { inWorkspace, type Kysely } from "@galaxy/db";
import type { ExecutionDb } from "../db";
import { applyAgentFact, rememberAgent } from "./agents.repository";

/** The durable consumer that keeps the worker's agent projection. */
export const AGENT_PROJECTION_CONSUMER = "execution-worker-agents";
export const AGENT_EVENTS = "evt.*.agent.>";

/**
 * Applies one agent event to the projection. Idempotent: a redelivery or a replay finds the
 * same or a newer fact already applied and changes nothing.
 */
export async function applyAgentEvent(db: Kysely<ExecutionDb>, event: TypedEvent): Promise<void> {
  switch (event.type) {
    case "agent.created": {
      const { agent } = event.data;
      // The bus checked the envelope's workspace; the agent inside it must agree too.
      if (agent.workspaceId !== event.workspaceId) throw new TerminalMessageError("workspace_mismatch", "the agent belongs to another workspace than its event");
      await inWorkspace(db, event.workspaceId, (tx) => rememberAgent(tx, agent, new Date(event.occurredAt), { first: true }));
      return;
    }
    case "agent.activated": {
      const { data } = event;
      await inWorkspace(db, event.workspaceId, (tx) =>
        applyAgentFact(tx, { workspaceId: event.workspaceId, agentId: data.agentId, status: data.status, version: data.version, at: new Date(event.occurredAt) }),
      );
      return;
    }
    case "agent.updated": {
      const { agent } = event.data;
      if (agent.workspaceId !== event.workspaceId) throw new TerminalMessageError("workspace_mismatch", "the agent belongs to another workspace than its event");
      // The new version is recorded before it becomes current: new executions pin it, running ones keep theirs.
      await inWorkspace(db, event.workspaceId, (tx) => rememberAgent(tx, agent, new Date(event.occurredAt)));
      return;
    }
    case "agent.paused": {
      const { data } = event;
      await inWorkspace(db, event.workspaceId, (tx) =>
        applyAgentFact(tx, { workspaceId: event.workspaceId, agentId: data.agentId, status: data.status, version: data.version, at: new Date(event.occurredAt) }),
      );
      return;
    }
    case "agent.deleted": {
      const { data } = event;
      await inWorkspace(db, event.workspaceId, (tx) =>
        applyAgentFact(tx, { workspaceId: event.workspaceId, agentId: data.agentId, status: data.status, version: data.version, at: new Date(event.occurredAt), deleted: true }),
      );
      return;
    }
    default:
      // Other agent events (new ones the registry adds) carry nothing this projection keeps yet.
      return;
  }
}

export function agentProjectionHandler(db: Kysely<ExecutionDb>): (message: EventMessage) => Promise<void> {
  return (message) => applyAgentEvent(db, message.event);
}
