import { sql, type Kysely, type Selectable, type Transaction } from "@galaxy/db";
import { AgentConfig, type Agent, type AgentStatus, type AgentVersion } from "@galaxy/contracts";
import type { AgentsTable, RegistryDb } from "../db";

type Tx = Transaction<RegistryDb>;

export interface NewAgent {
  id: string;
  workspaceId: string;
  config: AgentConfig;
  createdBy: string;
  /** The person behind the creator: the API key's creator, or the user itself. */
  createdByUser: string;
  /** The sealed completion-callback secret, when the config has a `notifyUrl`. */
  notifySecretSealed?: string | null | undefined;
}

/**
 * Inserts an agent and its first version; returns the agent as the contract shows it. The
 * caller's transaction decides the workspace (row-level security refuses any other).
 */
export async function insertAgent(tx: Tx, agent: NewAgent): Promise<Agent> {
  const row = await tx
    .insertInto("agents")
    .values({
      id: agent.id,
      workspace_id: agent.workspaceId,
      name: agent.config.name,
      description: agent.config.description,
      status: "draft",
      current_version: 1,
      created_by: agent.createdBy,
      created_by_user: agent.createdByUser,
      deleted_at: null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  await tx
    .insertInto("agent_versions")
    .values({
      workspace_id: agent.workspaceId,
      agent_id: agent.id,
      version: 1,
      config: JSON.stringify(agent.config),
      notify_secret_sealed: agent.notifySecretSealed ?? null,
      created_by: agent.createdBy,
    })
    .execute();
  return toAgent(row, agent.config);
}

/** A live (not deleted) agent of the transaction's workspace, locked for the rest of it when `forUpdate`. */
export async function findAgent(tx: Tx, id: string, options: { forUpdate?: boolean } = {}): Promise<Agent | undefined> {
  if (options.forUpdate) {
    // The lock is taken on the agent's row alone, then the agent read in a statement of its
    // own: a locking read over the join would, after waiting for a concurrent new version,
    // recheck the new row against the old version's and find nothing.
    const locked = await tx.selectFrom("agents").select("id").where("id", "=", id).where("deleted_at", "is", null).forUpdate().executeTakeFirst();
    if (!locked) return undefined;
  }
  const row = await currentAgents(tx).where("a.id", "=", id).executeTakeFirst();
  return row ? toAgent(row, row.config) : undefined;
}

/** Who owns an agent of the transaction's workspace: its creator and the person behind it. */
export async function agentOwners(tx: Tx, id: string): Promise<{ createdBy: string; createdByUser: string | undefined } | undefined> {
  const row = await tx.selectFrom("agents").select(["created_by", "created_by_user"]).where("id", "=", id).executeTakeFirst();
  return row ? { createdBy: row.created_by, createdByUser: row.created_by_user ?? undefined } : undefined;
}

/**
 * Whether an agent with this id exists in another workspace than `workspaceId`, deleted or
 * not (the security-definer `agent_exists_elsewhere`; row-level security hides such rows from
 * every other query). Only ever asked after a lookup found nothing, to report the attempt.
 */
export async function agentExistsElsewhere(db: Kysely<RegistryDb>, id: string, workspaceId: string): Promise<boolean> {
  const result = await sql<{ found: boolean }>`select agent_exists_elsewhere(${id}::uuid, ${workspaceId}::uuid) as found`.execute(db);
  return result.rows[0]?.found === true;
}

export interface AgentListFilter {
  status?: AgentStatus | undefined;
  limit: number;
  offset: number;
}

/** One page of the workspace's live agents, newest first, and how many there are in all. */
export async function listAgents(tx: Tx, filter: AgentListFilter): Promise<{ agents: Agent[]; total: number }> {
  let count = tx.selectFrom("agents").select((eb) => eb.fn.countAll<number>().as("total")).where("deleted_at", "is", null);
  let page = currentAgents(tx);
  if (filter.status) {
    count = count.where("status", "=", filter.status);
    page = page.where("a.status", "=", filter.status);
  }
  const totalRow = await count.executeTakeFirstOrThrow();
  // uuidv7 ids rise with time: they order agents created within the same instant.
  const rows = await page.orderBy("a.created_at", "desc").orderBy("a.id", "desc").limit(filter.limit).offset(filter.offset).execute();
  return { agents: rows.map((row) => toAgent(row, row.config)), total: Number(totalRow.total) };
}

/** Sets a live agent's status; returns when it changed (its new `updatedAt`). */
export async function updateStatus(tx: Tx, id: string, status: AgentStatus): Promise<string> {
  const row = await tx
    .updateTable("agents")
    .set({ status, updated_at: sql<Date>`now()` })
    .where("id", "=", id)
    .where("deleted_at", "is", null)
    .returning("updated_at")
    .executeTakeFirstOrThrow();
  return row.updated_at.toISOString();
}

export interface NewVersion {
  workspaceId: string;
  agentId: string;
  version: number;
  config: AgentConfig;
  createdBy: string;
  notifySecretSealed: string | null;
}

/**
 * Records a new immutable version and makes it the agent's current one (its name and
 * description follow); returns when that happened (the agent's new `updatedAt`).
 */
export async function insertVersion(tx: Tx, version: NewVersion): Promise<string> {
  await tx
    .insertInto("agent_versions")
    .values({
      workspace_id: version.workspaceId,
      agent_id: version.agentId,
      version: version.version,
      config: JSON.stringify(version.config),
      notify_secret_sealed: version.notifySecretSealed,
      created_by: version.createdBy,
    })
    .execute();
  const row = await tx
    .updateTable("agents")
    .set({ current_version: version.version, name: version.config.name, description: version.config.description, updated_at: sql<Date>`now()` })
    .where("id", "=", version.agentId)
    .where("deleted_at", "is", null)
    .returning("updated_at")
    .executeTakeFirstOrThrow();
  return row.updated_at.toISOString();
}

/** The sealed callback secret of one version of an agent of the transaction's workspace, deleted or not. */
export async function findVersionSecret(tx: Tx, agentId: string, version: number): Promise<{ config: AgentConfig; notifySecretSealed: string | null } | undefined> {
  const row = await tx
    .selectFrom("agent_versions")
    .select(["config", "notify_secret_sealed"])
    .where("agent_id", "=", agentId)
    .where("version", "=", version)
    .executeTakeFirst();
  return row ? { config: AgentConfig.parse(row.config), notifySecretSealed: row.notify_secret_sealed } : undefined;
}

/** Marks a live agent deleted; returns when. Its versions stay, for the executions that pinned them. */
export async function softDeleteAgent(tx: Tx, id: string): Promise<string> {
  const row = await tx
    .updateTable("agents")
    .set({ deleted_at: sql<Date>`now()`, updated_at: sql<Date>`now()` })
    .where("id", "=", id)
    .where("deleted_at", "is", null)
    .returning("deleted_at")
    .executeTakeFirstOrThrow();
  if (!row.deleted_at) throw new Error("the agent's deletion was not recorded");
  return row.deleted_at.toISOString();
}

/** One page of an agent's versions, newest first, and how many there are. */
export async function listVersions(tx: Tx, agentId: string, page: { limit: number; offset: number }): Promise<{ versions: AgentVersion[]; total: number }> {
  const totalRow = await tx
    .selectFrom("agent_versions")
    .select((eb) => eb.fn.countAll<number>().as("total"))
    .where("agent_id", "=", agentId)
    .executeTakeFirstOrThrow();
  const rows = await tx
    .selectFrom("agent_versions")
    .select(["version", "config", "created_at", "created_by"])
    .where("agent_id", "=", agentId)
    .orderBy("version", "desc")
    .limit(page.limit)
    .offset(page.offset)
    .execute();
  return {
    versions: rows.map((row) => ({ version: row.version, config: AgentConfig.parse(row.config), createdAt: row.created_at.toISOString(), createdBy: row.created_by })),
    total: Number(totalRow.total),
  };
}

/** Live agents joined to the config of their current version. */
function currentAgents(tx: Tx) {
  return tx
    .selectFrom("agents as a")
    .innerJoin("agent_versions as v", (join) => join.onRef("v.agent_id", "=", "a.id").onRef("v.version", "=", "a.current_version"))
    .selectAll("a")
    .select("v.config")
    .where("a.deleted_at", "is", null);
}

function toAgent(row: Selectable<AgentsTable>, config: unknown): Agent {
  // The stored config was checked when written; parsing again keeps a hand-edited or
  // older-shaped row from leaving the service unnoticed.
  const parsed = AgentConfig.parse(config);
  return {
    ...parsed,
    id: row.id,
    workspaceId: row.workspace_id,
    status: row.status,
    version: row.current_version,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}
