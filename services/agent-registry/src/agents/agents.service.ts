import { v7 as uuidv7 } from "uuid";
import {
  agentConfigFromBody, authorize, pagination, principalOf, type Action, type Agent, type AgentConfig, type AgentStatus, type CreateAgentBody,
  type EventActor, type PageQuery, type ReplyData, type ResourceOwnership, type WorkspaceClaim,
} from "@galaxy/contracts";
import { appendEvent, inWorkspace, type EventContext, type Kysely, type OutboxRelay, type OutboxRow } from "@galaxy/db";
import type { Logger } from "@galaxy/observability";
import type { RegistryDb } from "../db";
import { ActionForbiddenError, AgentNotFoundError, InvalidJsonSchemaError } from "../errors";
import { agentExistsElsewhere, agentOwners, findAgent, insertAgent, listAgents, updateStatus } from "./agents.repository";
import { jsonSchemaProblem } from "./json-schema";

/** Who is asking, as the bus verified it, and the context its events will carry. */
export interface Caller {
  claim: WorkspaceClaim;
  /** The context of the events this request causes: claim, trace, and where the HTTP request came from. */
  eventContext: () => EventContext;
  /** Where a failure that must not change the answer (reporting an attempt) is logged. */
  logger?: Logger | undefined;
}

/** The operations that look an agent up by id, as a `security.cross_workspace_attempt` names them. */
export type AgentLookup = "agents.get" | "agents.activate";

export interface AgentsServiceDeps {
  db: Kysely<RegistryDb>;
  relay: OutboxRelay;
}

export type AgentPage = ReplyData<"registry.agents.list">;

/** Agents of the caller's workspace: every query runs with that workspace set (row-level security). */
export class AgentsService {
  constructor(private readonly deps: AgentsServiceDeps) {}

  async create(caller: Caller, body: CreateAgentBody): Promise<Agent> {
    const { db, relay } = this.deps;
    const { claim } = caller;
    requireAllowed(claim, "agents.create");
    const config = agentConfigFromBody(body);
    const problems = schemaProblems(config);
    if (problems) throw new InvalidJsonSchemaError(problems);
    const events: OutboxRow[] = [];
    const agent = await inWorkspace(db, claim.ws, async (tx) => {
      const created = await insertAgent(tx, { id: uuidv7(), workspaceId: claim.ws, config, createdBy: claim.sub, createdByUser: claim.act === "api_key" && claim.own ? claim.own : claim.sub });
      events.push(await appendEvent(tx, { type: "agent.created", workspaceId: claim.ws, actor: actorOf(claim), context: caller.eventContext(), data: { agent: created } }));
      return created;
    });
    relay.publishNow(events);
    return agent;
  }

  async list(caller: Caller, query: PageQuery & { status?: AgentStatus | undefined }): Promise<AgentPage> {
    const { claim } = caller;
    requireAllowed(claim, "agents.read");
    const { agents, total } = await inWorkspace(this.deps.db, claim.ws, (tx) => listAgents(tx, query));
    return { items: agents, pagination: pagination(total, query) };
  }

  async get(caller: Caller, id: string): Promise<Agent> {
    const { claim } = caller;
    const agent = await inWorkspace(this.deps.db, claim.ws, (tx) => findAgent(tx, id));
    // Not found comes before the role check: another workspace's agent must be
    // indistinguishable from one that does not exist (CONTRACT §1).
    if (!agent) throw await this.notFound(caller, id, "agents.get");
    requireAllowed(claim, "agents.read");
    return agent;
  }

  /** Makes an agent runnable. Activating an active agent answers it as it is and emits nothing. */
  async activate(caller: Caller, id: string): Promise<Agent> {
    const { db, relay } = this.deps;
    const { claim } = caller;
    const events: OutboxRow[] = [];
    const agent = await inWorkspace(db, claim.ws, async (tx) => {
      // The row lock makes concurrent activations queue, so exactly one of them emits the event.
      const current = await findAgent(tx, id, { forUpdate: true });
      if (!current) return null;
      requireAllowed(claim, "agents.activate", (await agentOwners(tx, id)) ?? { createdBy: current.createdBy });
      const step = activation(current.status);
      if (!step.changes) return current;
      const updatedAt = await updateStatus(tx, id, step.status);
      events.push(
        await appendEvent(tx, {
          type: "agent.activated",
          workspaceId: claim.ws,
          actor: actorOf(claim),
          context: caller.eventContext(),
          data: { agentId: id, version: current.version, status: step.status, before: current.status },
        }),
      );
      return { ...current, status: step.status, updatedAt };
    });
    if (!agent) throw await this.notFound(caller, id, "agents.activate");
    relay.publishNow(events);
    return agent;
  }

  /**
   * The answer to a lookup by id that found nothing in the caller's workspace: always the same
   * 404. When the id is an agent of another workspace, the attempt is also recorded as a
   * `security.cross_workspace_attempt` event in the caller's workspace. Every miss asks the
   * question, so a foreign id and a random one cost the same query; only the report's insert
   * differs. A report that cannot be written is logged, never answered: a 503 for foreign ids
   * alone would tell the caller what the 404 hides.
   */
  private async notFound(caller: Caller, id: string, operation: AgentLookup): Promise<AgentNotFoundError> {
    try {
      if (await agentExistsElsewhere(this.deps.db, id, caller.claim.ws)) await this.reportCrossWorkspaceAttempt(caller, id, operation);
    } catch (error) {
      caller.logger?.error({ err: error, agentId: id, operation }, "could not record a cross-workspace attempt");
    }
    return new AgentNotFoundError(id);
  }

  private async reportCrossWorkspaceAttempt(caller: Caller, id: string, operation: AgentLookup): Promise<void> {
    const { db, relay } = this.deps;
    const { claim } = caller;
    const context = caller.eventContext();
    const actor = actorOf(claim);
    const event = await inWorkspace(db, claim.ws, (tx) =>
      appendEvent(tx, {
        type: "security.cross_workspace_attempt",
        workspaceId: claim.ws,
        actor,
        context,
        data: { actor, targetType: "agent", targetId: id, operation, ipAddress: context.clientIp ?? null, userAgent: context.userAgent ?? null },
      }),
    );
    relay.publishNow([event]);
  }
}

/** What activating an agent in `status` does. */
export function activation(status: AgentStatus): { changes: true; status: "active" } | { changes: false } {
  switch (status) {
    case "draft":
    case "paused":
      return { changes: true, status: "active" };
    case "active":
      return { changes: false };
    default: {
      const _exhaustive: never = status;
      return _exhaustive;
    }
  }
}

/** Every JSON Schema of a config that is not a valid one, by field path; null when all are. */
export function schemaProblems(config: AgentConfig): Record<string, string> | null {
  const problems: Record<string, string> = {};
  const check = (path: string, schema: AgentConfig["inputSchema"]) => {
    if (schema === null) return;
    const problem = jsonSchemaProblem(schema);
    if (problem) problems[path] = problem;
  };
  check("inputSchema", config.inputSchema);
  check("outputSchema", config.outputSchema);
  config.tools.forEach((tool, index) => {
    if (tool.type === "webhook") check(`tools.${index}.parameters`, tool.parameters);
  });
  return Object.keys(problems).length > 0 ? problems : null;
}

function requireAllowed(claim: WorkspaceClaim, action: Action, resource?: ResourceOwnership): void {
  if (!authorize(principalOf(claim), action, resource)) throw new ActionForbiddenError(action);
}

function actorOf(claim: WorkspaceClaim): EventActor {
  return { type: claim.act, id: claim.sub };
}
