import { sql, type Kysely, type Selectable, type Transaction } from "@galaxy/db";
import type { CallbackDeliveriesTable, ExecutionDb } from "../db";
import { uuidv7 } from "@galaxy/contracts";

type Tx = Transaction<ExecutionDb>;
export type DeliveryRow = Selectable<CallbackDeliveriesTable>;

export interface FirstAttempt {
  /** The attempt's id (made here when not given). */
  id?: string | undefined;
  workspaceId: string;
  executionId: string;
  eventId: string;
  eventType: string;
  agentId: string;
  agentVersion: number;
  url: string;
  /** The event as it went over the bus: what the receiver gets. */
  payload: unknown;
  giveUpAt: Date;
  traceparent?: string | null | undefined;
}

/** Schedules the first attempt of a delivery, due now. A redelivered or replayed event finds it there and changes nothing. */
export async function scheduleFirstAttempt(tx: Tx, first: FirstAttempt): Promise<boolean> {
  const inserted = await tx
    .insertInto("callback_deliveries")
    .values({
      id: first.id ?? uuidv7(),
      workspace_id: first.workspaceId,
      execution_id: first.executionId,
      event_id: first.eventId,
      event_type: first.eventType,
      agent_id: first.agentId,
      agent_version: first.agentVersion,
      attempt: 1,
      url: first.url,
      status: "pending",
      response_status: null,
      error: null,
      payload: JSON.stringify(first.payload),
      next_attempt_at: sql<Date>`now()`,
      give_up_at: first.giveUpAt,
      traceparent: first.traceparent ?? null,
    })
    .onConflict((oc) => oc.columns(["event_id", "attempt"]).doNothing())
    .returning("id")
    .executeTakeFirst();
  return inserted !== undefined;
}

/** Leases up to `limit` due attempts of every workspace (the security-definer `claim_due_callback_deliveries`). */
export async function claimDueDeliveries(db: Kysely<ExecutionDb>, limit: number, leaseMs: number): Promise<Array<{ id: string; workspaceId: string }>> {
  const result = await sql<{ id: string; workspace_id: string }>`select id, workspace_id from claim_due_callback_deliveries(${limit}::int, ${leaseMs}::int)`.execute(db);
  return result.rows.map((row) => ({ id: row.id, workspaceId: row.workspace_id }));
}

/** A pending attempt of the transaction's workspace, locked; undefined when it was made meanwhile. */
export async function findPendingAttempt(tx: Tx, id: string): Promise<DeliveryRow | undefined> {
  return tx.selectFrom("callback_deliveries").selectAll().where("id", "=", id).where("status", "=", "pending").forUpdate().executeTakeFirst();
}

export interface AttemptOutcome {
  status: "delivered" | "failed";
  responseStatus: number | null;
  error: string | null;
  at: Date;
  /** When the next attempt is due; null when there is none (delivered, refused, or out of time). */
  retryAt: Date | null;
}

/** Records what an attempt did and, when it failed in time, schedules the next one. */
export async function recordAttempt(tx: Tx, row: DeliveryRow, outcome: AttemptOutcome): Promise<void> {
  await tx
    .updateTable("callback_deliveries")
    .set({ status: outcome.status, response_status: outcome.responseStatus, error: outcome.error, at: outcome.at, next_attempt_at: null })
    .where("id", "=", row.id)
    .execute();
  if (outcome.retryAt === null) return;
  await tx
    .insertInto("callback_deliveries")
    .values({
      id: uuidv7(),
      workspace_id: row.workspace_id,
      execution_id: row.execution_id,
      event_id: row.event_id,
      event_type: row.event_type,
      agent_id: row.agent_id,
      agent_version: row.agent_version,
      attempt: row.attempt + 1,
      url: row.url,
      status: "pending",
      response_status: null,
      error: null,
      payload: JSON.stringify(row.payload),
      at: outcome.at,
      next_attempt_at: outcome.retryAt,
      give_up_at: row.give_up_at,
      traceparent: row.traceparent,
    })
    .onConflict((oc) => oc.columns(["event_id", "attempt"]).doNothing())
    .execute();
}

/** Puts a leased attempt back, due at `at`, without counting it as made (the secret could not be had). */
export async function postpone(tx: Tx, id: string, at: Date): Promise<void> {
  await tx.updateTable("callback_deliveries").set({ next_attempt_at: at }).where("id", "=", id).where("status", "=", "pending").execute();
}

