import { AgentConfig, type Agent, type AgentStatus } from "@galaxy/contracts";
import { sql, type Kysely, type Transaction } from "@galaxy/db";
import type { ExecutionDb } from "../db";

type Db = Kysely<ExecutionDb> | Transaction<ExecutionDb>;

/** A fact about an agent's state, from an event or from the registry's answer. */
export interface AgentFact {
  workspaceId: string;
  agentId: string;
  status: AgentStatus;
  version: number;
  /** When the fact became true: an older fact than the one applied last changes nothing. */
  at: Date;
  /** The agent was deleted: for good, whatever facts come after. */
  deleted?: boolean | undefined;
  /**
   * The agent's first fact (`agent.created`): applied only to an agent the projection does not
   * know yet. Facts of the same millisecond cannot be ordered by `at`, so a copy of the creation
   * replayed after an activation of the same millisecond would otherwise take it back to draft.
   */
  first?: boolean | undefined;
}

/** What the worker knows of an agent when asked to start it. */
export interface PinnableAgent {
  status: AgentStatus;
  deleted: boolean;
  version: number;
  /** The config of `version`, when the worker has seen it. */
  config: AgentConfig | null;
}

/**
 * Applies an agent's state idempotently: the same fact again, or an older one (a replay, a
 * late redelivery), leaves the row as it is; the current version never moves backwards and
 * a deleted agent stays deleted.
 */
export async function applyAgentFact(tx: Transaction<ExecutionDb>, fact: AgentFact): Promise<void> {
  const deleted = fact.deleted === true;
  await sql`insert into agents (workspace_id, agent_id, status, current_version, updated_at, deleted)
            values (${fact.workspaceId}, ${fact.agentId}, ${fact.status}, ${fact.version}, ${fact.at}, ${deleted})
            on conflict (agent_id) do update
               set status = excluded.status,
                   current_version = greatest(agents.current_version, excluded.current_version),
                   updated_at = excluded.updated_at,
                   deleted = agents.deleted or excluded.deleted
             where ${fact.first !== true} and excluded.updated_at >= agents.updated_at
               and (agents.status, agents.current_version, agents.updated_at, agents.deleted)
                   is distinct from (excluded.status, greatest(agents.current_version, excluded.current_version), excluded.updated_at, agents.deleted or excluded.deleted)`.execute(tx);
  // A deletion is final even when it is older than the last fact applied (a late redelivery).
  if (deleted) await tx.updateTable("agents").set({ deleted: true }).where("agent_id", "=", fact.agentId).where("deleted", "=", false).execute();
}

/** Records one immutable version's config; a version already known is kept as it is. */
export async function insertAgentVersion(tx: Transaction<ExecutionDb>, version: { workspaceId: string; agentId: string; version: number; config: AgentConfig }): Promise<void> {
  await tx
    .insertInto("agent_versions")
    .values({ workspace_id: version.workspaceId, agent_id: version.agentId, version: version.version, config: JSON.stringify(version.config) })
    .onConflict((oc) => oc.columns(["agent_id", "version"]).doNothing())
    .execute();
}

/** Projects an agent as the registry describes it (created, or fetched on a projection miss). */
export async function rememberAgent(tx: Transaction<ExecutionDb>, agent: Agent, at: Date = new Date(agent.updatedAt), options: { first?: boolean } = {}): Promise<void> {
  await insertAgentVersion(tx, { workspaceId: agent.workspaceId, agentId: agent.id, version: agent.version, config: configOf(agent) });
  await applyAgentFact(tx, { workspaceId: agent.workspaceId, agentId: agent.id, status: agent.status, version: agent.version, at, first: options.first });
}

/** The agent and the config of its current version, as far as the projection knows them. */
export async function findPinnableAgent(db: Db, agentId: string): Promise<PinnableAgent | null> {
  const row = await db
    .selectFrom("agents")
    .leftJoin("agent_versions", (join) => join.onRef("agent_versions.agent_id", "=", "agents.agent_id").onRef("agent_versions.version", "=", "agents.current_version"))
    .select(["agents.status", "agents.deleted", "agents.current_version", "agent_versions.config"])
    .where("agents.agent_id", "=", agentId)
    .executeTakeFirst();
  if (!row) return null;
  const config = AgentConfig.safeParse(row.config);
  return { status: row.status, deleted: row.deleted, version: row.current_version, config: config.success ? config.data : null };
}

/** The config an execution pinned; null when the version is unknown here. */
export async function findAgentVersion(db: Db, agentId: string, version: number): Promise<AgentConfig | null> {
  const row = await db.selectFrom("agent_versions").select("config").where("agent_id", "=", agentId).where("version", "=", version).executeTakeFirst();
  if (!row) return null;
  const config = AgentConfig.safeParse(row.config);
  return config.success ? config.data : null;
}

/** The version config an agent carries (the registry's `Agent` is its current config plus metadata). */
export function configOf(agent: Agent): AgentConfig {
  return AgentConfig.parse(agent);
}

/** The registry's description of an agent, as the start decision reads it. */
export function pinnableFrom(agent: Agent): PinnableAgent {
  return { status: agent.status, deleted: false, version: agent.version, config: configOf(agent) };
}
