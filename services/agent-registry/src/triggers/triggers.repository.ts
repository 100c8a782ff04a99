import { sql, type Kysely, type Selectable, type Transaction } from "@galaxy/db";
import { AgentStatus, JsonSchemaDoc, type Trigger } from "@galaxy/contracts";
import type { RegistryDb, TriggersTable } from "../db";

type Tx = Transaction<RegistryDb>;

export type NewTrigger =
  | { type: "webhook"; id: string; workspaceId: string; agentId: string; createdBy: string; secretSealed: string }
  | { type: "schedule"; id: string; workspaceId: string; agentId: string; createdBy: string; cron: string; timezone: string; input: unknown };

/** Inserts a trigger of the transaction's workspace; returns it as the API shows it (no secret). */
export async function insertTrigger(tx: Tx, trigger: NewTrigger): Promise<Trigger> {
  const row = await tx
    .insertInto("triggers")
    .values({
      id: trigger.id,
      workspace_id: trigger.workspaceId,
      agent_id: trigger.agentId,
      type: trigger.type,
      secret_sealed: trigger.type === "webhook" ? trigger.secretSealed : null,
      previous_secret_sealed: null,
      previous_secret_expires_at: null,
      cron: trigger.type === "schedule" ? trigger.cron : null,
      timezone: trigger.type === "schedule" ? trigger.timezone : null,
      input: trigger.type === "schedule" ? JSON.stringify(trigger.input ?? null) : null,
      created_by: trigger.createdBy,
      deleted_at: null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toTrigger(row);
}

/** A live trigger of one agent of the transaction's workspace, with its sealed secrets; locked when `forUpdate`. */
export async function findTrigger(tx: Tx, agentId: string, id: string, options: { forUpdate?: boolean } = {}): Promise<Selectable<TriggersTable> | undefined> {
  let query = tx.selectFrom("triggers").selectAll().where("id", "=", id).where("agent_id", "=", agentId).where("deleted_at", "is", null);
  if (options.forUpdate) query = query.forUpdate();
  return query.executeTakeFirst();
}

/** One page of an agent's live triggers, newest first, and how many there are. */
export async function listTriggers(tx: Tx, agentId: string, page: { limit: number; offset: number }): Promise<{ triggers: Trigger[]; total: number }> {
  const live = tx.selectFrom("triggers").where("agent_id", "=", agentId).where("deleted_at", "is", null);
  const totalRow = await live.select((eb) => eb.fn.countAll<number>().as("total")).executeTakeFirstOrThrow();
  const rows = await live.selectAll().orderBy("created_at", "desc").orderBy("id", "desc").limit(page.limit).offset(page.offset).execute();
  return { triggers: rows.map(toTrigger), total: Number(totalRow.total) };
}

export async function softDeleteTrigger(tx: Tx, id: string): Promise<void> {
  await tx
    .updateTable("triggers")
    .set({ deleted_at: sql<Date>`now()`, updated_at: sql<Date>`now()`, previous_secret_sealed: null, previous_secret_expires_at: null })
    .where("id", "=", id)
    .execute();
}

/** Makes `secretSealed` the current secret; the current one verifies until `previousExpiresAt`. */
export async function rotateTriggerSecret(tx: Tx, id: string, secretSealed: string, previousExpiresAt: Date): Promise<void> {
  await tx
    .updateTable("triggers")
    .set({ previous_secret_sealed: sql<string>`secret_sealed`, previous_secret_expires_at: previousExpiresAt, secret_sealed: secretSealed, updated_at: sql<Date>`now()` })
    .where("id", "=", id)
    .execute();
}

/** A live schedule trigger by id in the transaction's workspace, with its agent's status (for a tick). */
export async function findScheduleForTick(tx: Tx, id: string): Promise<{ agentId: string; agentStatus: AgentStatus; input: unknown; cron: string; timezone: string } | undefined> {
  const row = await tx
    .selectFrom("triggers as t")
    .innerJoin("agents as a", (join) => join.onRef("a.id", "=", "t.agent_id").onRef("a.workspace_id", "=", "t.workspace_id"))
    .select(["t.agent_id", "t.input", "t.cron", "t.timezone", "a.status"])
    .where("t.id", "=", id)
    .where("t.type", "=", "schedule")
    .where("t.deleted_at", "is", null)
    .where("a.deleted_at", "is", null)
    .executeTakeFirst();
  if (!row || row.cron === null || row.timezone === null) return undefined;
  return { agentId: row.agent_id, agentStatus: row.status, input: row.input, cron: row.cron, timezone: row.timezone };
}

export interface DeliveryTrigger {
  workspaceId: string;
  agentId: string;
  agentStatus: AgentStatus;
  secretSealed: string;
  previousSecretSealed: string | null;
  previousSecretExpiresAt: Date | null;
  /** The agent's current version, and that version's `inputSchema`, which a delivery's body must pass. */
  agentVersion: number;
  inputSchema: JsonSchemaDoc | null;
}

/**
 * A live webhook trigger by id, in whatever workspace it is (the security-definer
 * `webhook_trigger_for_delivery`): a delivery names its trigger and nothing else.
 */
export async function webhookTriggerForDelivery(db: Kysely<RegistryDb>, id: string): Promise<DeliveryTrigger | undefined> {
  const result = await sql<{
    workspace_id: string;
    agent_id: string;
    agent_status: string;
    secret_sealed: string;
    previous_secret_sealed: string | null;
    previous_secret_expires_at: Date | null;
    agent_version: number;
    input_schema: unknown;
  }>`select * from webhook_trigger_for_delivery(${id}::uuid)`.execute(db);
  const row = result.rows[0];
  if (!row) return undefined;
  return {
    workspaceId: row.workspace_id,
    agentId: row.agent_id,
    agentStatus: AgentStatus.parse(row.agent_status),
    secretSealed: row.secret_sealed,
    previousSecretSealed: row.previous_secret_sealed,
    previousSecretExpiresAt: row.previous_secret_expires_at,
    agentVersion: row.agent_version,
    // Checked when the version was saved; parsed again so a hand-edited row fails here, not in the gateway.
    inputSchema: JsonSchemaDoc.nullable().parse(row.input_schema ?? null),
  };
}

export interface LiveSchedule {
  id: string;
  workspaceId: string;
  agentId: string;
  cron: string;
  timezone: string;
}

/** Every live schedule trigger of an active agent, in every workspace (the security-definer `live_schedule_triggers`). */
export async function liveScheduleTriggers(db: Kysely<RegistryDb>): Promise<LiveSchedule[]> {
  const result = await sql<{ id: string; workspace_id: string; agent_id: string; cron: string; timezone: string }>`select * from live_schedule_triggers()`.execute(db);
  return result.rows.map((row) => ({ id: row.id, workspaceId: row.workspace_id, agentId: row.agent_id, cron: row.cron, timezone: row.timezone }));
}

/** Whether a trigger with this id exists in another workspace than `workspaceId` (the security-definer `trigger_exists_elsewhere`). */
export async function triggerExistsElsewhere(db: Kysely<RegistryDb>, id: string, workspaceId: string): Promise<boolean> {
  const result = await sql<{ found: boolean }>`select trigger_exists_elsewhere(${id}::uuid, ${workspaceId}::uuid) as found`.execute(db);
  return result.rows[0]?.found === true;
}

export function toTrigger(row: Selectable<TriggersTable>): Trigger {
  return {
    id: row.id,
    type: row.type,
    agentId: row.agent_id,
    workspaceId: row.workspace_id,
    url: row.type === "webhook" ? `/hooks/${row.id}` : null,
    cron: row.cron,
    timezone: row.timezone,
    input: row.type === "schedule" ? (row.input ?? null) : null,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
  };
}
