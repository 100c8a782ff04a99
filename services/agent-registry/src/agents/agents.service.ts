import { randomBytes } from "node:crypto";
import {
  agentConfigFromBody, applyAgentUpdate, authorize, ForbiddenError, pagination, principalOf, type Action, type Agent, type AgentConfig, type AgentStatus,
  type AgentVersionsRequest, type CreateAgentBody, type EventActor, type NotifySecretReply, type NotifySecretRequest, type PageQuery, type ReplyData,
  type ResourceOwnership, type SavedAgent, type UpdateAgentRequest, type WorkspaceClaim, uuidv7,
} from "@galaxy/contracts";
import { appendEvent, inWorkspace, reportCrossWorkspaceAttempt, type EventContext, type Kysely, type OutboxRelay, type OutboxRow } from "@galaxy/db";
import type { Logger } from "@galaxy/observability";
import type { SecretBox } from "@galaxy/secrets";
import type { RegistryDb } from "../db";
import { ActionForbiddenError, AgentNotFoundError, AgentStateConflictError, InvalidJsonSchemaError, NotifySecretNotFoundError } from "../errors";
import {
  agentExistsElsewhere, agentOwners, findAgent, findVersionSecret, insertAgent, insertVersion, listAgents, listVersions, softDeleteAgent, updateStatus,
} from "./agents.repository";
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
export type AgentLookup = "agents.get" | "agents.activate" | "agents.update" | "agents.pause" | "agents.delete" | "agents.versions";

export interface AgentsServiceDeps {
  db: Kysely<RegistryDb>;
  relay: OutboxRelay;
  /** Seals completion-callback secrets at rest (`GALAXY_MASTER_KEY`). */
  box: SecretBox;
}

/** The services whose service claim may read a completion-callback secret (NATS permissions are the first lock). */
export const NOTIFY_SECRET_READERS: ReadonlySet<string> = new Set(["execution-worker"]);

export type AgentPage = ReplyData<"registry.agents.list">;

/** Agents of the caller's workspace: every query runs with that workspace set (row-level security). */
export class AgentsService {
  constructor(private readonly deps: AgentsServiceDeps) {}

  async create(caller: Caller, body: CreateAgentBody): Promise<SavedAgent> {
    const { db, relay } = this.deps;
    const { claim } = caller;
    requireAllowed(claim, "agents.create");
    const config = agentConfigFromBody(body);
    const problems = schemaProblems(config);
    if (problems) throw new InvalidJsonSchemaError(problems);
    const events: OutboxRow[] = [];
    const notifySecret = config.notifyUrl === null ? undefined : newNotifySecret();
    const agent = await inWorkspace(db, claim.ws, async (tx) => {
      const created = await insertAgent(tx, {
        id: uuidv7(),
        workspaceId: claim.ws,
        config,
        createdBy: claim.sub,
        createdByUser: claim.act === "api_key" && claim.own ? claim.own : claim.sub,
        notifySecretSealed: notifySecret === undefined ? null : this.deps.box.seal(notifySecret),
      });
      events.push(await appendEvent(tx, { type: "agent.created", workspaceId: claim.ws, actor: actorOf(claim), context: caller.eventContext(), data: { agent: created } }));
      return created;
    });
    relay.publishNow(events);
    return notifySecret === undefined ? agent : { ...agent, notifySecret };
  }

  /**
   * Changes an agent's config. A change makes a new immutable version (`version` + 1) and an
   * `agent.updated` event; a body that changes nothing answers the agent as it is. A new or
   * changed `notifyUrl` gets a new callback secret, answered here once; an unchanged one keeps
   * the secret it had.
   */
  async update(caller: Caller, request: UpdateAgentRequest): Promise<SavedAgent> {
    const { db, relay, box } = this.deps;
    const { claim } = caller;
    const events: OutboxRow[] = [];
    const result = await inWorkspace(db, claim.ws, async (tx) => {
      const current = await findAgent(tx, request.id, { forUpdate: true });
      if (!current) return null;
      requireAllowed(claim, "agents.edit", (await agentOwners(tx, request.id)) ?? { createdBy: current.createdBy });
      const before = configOf(current);
      const after = applyAgentUpdate(before, request.changes);
      const problems = schemaProblems(after);
      if (problems) throw new InvalidJsonSchemaError(problems);
      if (sameJson(before, after)) return { agent: current, notifySecret: undefined };
      const previous = await findVersionSecret(tx, request.id, current.version);
      let notifySecret: string | undefined;
      let sealed: string | null = null;
      if (after.notifyUrl !== null && after.notifyUrl === before.notifyUrl && previous?.notifySecretSealed) {
        sealed = previous.notifySecretSealed;
      } else if (after.notifyUrl !== null) {
        notifySecret = newNotifySecret();
        sealed = box.seal(notifySecret);
      }
      const version = current.version + 1;
      const updatedAt = await insertVersion(tx, { workspaceId: claim.ws, agentId: request.id, version, config: after, createdBy: claim.sub, notifySecretSealed: sealed });
      const agent: Agent = { ...current, ...after, version, updatedAt };
      events.push(
        await appendEvent(tx, {
          type: "agent.updated",
          workspaceId: claim.ws,
          actor: actorOf(claim),
          context: caller.eventContext(),
          data: { agent, before, previousVersion: current.version },
        }),
      );
      return { agent, notifySecret };
    });
    if (!result) throw await this.notFound(caller, request.id, "agents.update");
    relay.publishNow(events);
    return result.notifySecret === undefined ? result.agent : { ...result.agent, notifySecret: result.notifySecret };
  }

  /** Stops an active agent from starting executions (running ones finish). Pausing a paused agent emits nothing. */
  async pause(caller: Caller, id: string): Promise<Agent> {
    const { db, relay } = this.deps;
    const { claim } = caller;
    const events: OutboxRow[] = [];
    const agent = await inWorkspace(db, claim.ws, async (tx) => {
      const current = await findAgent(tx, id, { forUpdate: true });
      if (!current) return null;
      // Pausing is the inverse of activating: the same people may do it.
      requireAllowed(claim, "agents.activate", (await agentOwners(tx, id)) ?? { createdBy: current.createdBy });
      if (current.status === "paused") return current;
      if (current.status === "draft") throw new AgentStateConflictError(id, "a draft", "paused");
      const updatedAt = await updateStatus(tx, id, "paused");
      events.push(
        await appendEvent(tx, {
          type: "agent.paused",
          workspaceId: claim.ws,
          actor: actorOf(claim),
          context: caller.eventContext(),
          data: { agentId: id, version: current.version, status: "paused", before: current.status },
        }),
      );
      return { ...current, status: "paused" as const, updatedAt };
    });
    if (!agent) throw await this.notFound(caller, id, "agents.pause");
    relay.publishNow(events);
    return agent;
  }

  /**
   * Soft-deletes an agent: from now on it is a 404 for every request (read, list, activate,
   * executions). Its versions stay, so executions that pinned one keep their record.
   */
  async delete(caller: Caller, id: string): Promise<Agent> {
    const { db, relay } = this.deps;
    const { claim } = caller;
    const events: OutboxRow[] = [];
    const agent = await inWorkspace(db, claim.ws, async (tx) => {
      const current = await findAgent(tx, id, { forUpdate: true });
      if (!current) return null;
      requireAllowed(claim, "agents.delete", (await agentOwners(tx, id)) ?? { createdBy: current.createdBy });
      const deletedAt = await softDeleteAgent(tx, id);
      events.push(
        await appendEvent(tx, {
          type: "agent.deleted",
          workspaceId: claim.ws,
          actor: actorOf(claim),
          context: caller.eventContext(),
          data: { agentId: id, version: current.version, status: current.status, deletedAt },
        }),
      );
      return current;
    });
    if (!agent) throw await this.notFound(caller, id, "agents.delete");
    relay.publishNow(events);
    return agent;
  }

  /** The versions of a live agent, newest first. */
  async versions(caller: Caller, request: AgentVersionsRequest): Promise<ReplyData<"registry.agents.versions">> {
    const { claim } = caller;
    const found = await inWorkspace(this.deps.db, claim.ws, async (tx) => {
      const agent = await findAgent(tx, request.id);
      if (!agent) return null;
      requireAllowed(claim, "agents.read");
      return listVersions(tx, request.id, request);
    });
    if (!found) throw await this.notFound(caller, request.id, "agents.versions");
    return { items: found.versions, pagination: pagination(found.total, request) };
  }

  /**
   * The callback URL and secret of one version, for the execution worker alone (its service
   * claim; NATS keeps everyone else from asking). Answers for a deleted agent too: its
   * executions that finished before the deletion are still reported.
   */
  async notifySecret(caller: Caller, request: NotifySecretRequest): Promise<NotifySecretReply> {
    const { claim } = caller;
    if (claim.act !== "service" || !NOTIFY_SECRET_READERS.has(claim.sub)) {
      throw new ForbiddenError("Callback secrets are read by the execution worker alone", "forbidden");
    }
    const found = await inWorkspace(this.deps.db, claim.ws, (tx) => findVersionSecret(tx, request.agentId, request.version));
    if (!found || found.config.notifyUrl === null || found.notifySecretSealed === null) throw new NotifySecretNotFoundError(request.agentId, request.version);
    return { notifyUrl: found.config.notifyUrl, notifySecret: this.deps.box.open(found.notifySecretSealed) };
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
    // indistinguishable from one that does not exist (docs/api.md).
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
    const { db, relay } = this.deps;
    const { claim } = caller;
    await reportCrossWorkspaceAttempt({
      db, relay, claim, eventContext: () => caller.eventContext(), targetType: "agent", targetId: id, operation, logger: caller.logger,
      existsElsewhere: () => agentExistsElsewhere(db, id, claim.ws),
    });
    return new AgentNotFoundError(id);
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

/** A completion-callback secret: `whsec_` and 32 random bytes, base64 (Standard Webhooks). */
export function newNotifySecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

/** The config part of an agent (what a version pins). */
function configOf(agent: Agent): AgentConfig {
  const { id: _id, workspaceId: _ws, status: _status, version: _version, createdBy: _createdBy, createdAt: _createdAt, updatedAt: _updatedAt, ...config } = agent;
  return config;
}

/** Equal as JSON values, whatever the order of object keys (Postgres' jsonb does not keep it). */
export function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(entries.map(([key, inner]) => [key, canonical(inner)]));
  }
  return value;
}

function requireAllowed(claim: WorkspaceClaim, action: Action, resource?: ResourceOwnership): void {
  if (!authorize(principalOf(claim), action, resource)) throw new ActionForbiddenError(action);
}

function actorOf(claim: WorkspaceClaim): EventActor {
  return { type: claim.act, id: claim.sub };
}
