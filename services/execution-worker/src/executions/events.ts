import { EventEnvelope, type EventActor, type EventData, type EventType } from "@galaxy/contracts";
import { appendEvent, sql, type EventContext, type Kysely, type OutboxRow, type Transaction } from "@galaxy/db";
import type { ExecutionDb } from "../db";

type Db = Kysely<ExecutionDb> | Transaction<ExecutionDb>;

/** The event types that belong to one execution: their data carries `executionId` and `seq`. */
export type ExecutionEventType = {
  [K in EventType]: EventData<K> extends { executionId: string; seq: number } ? K : never;
}[EventType];

export interface NewExecutionEvent<T extends ExecutionEventType> {
  type: T;
  workspaceId: string;
  executionId: string;
  actor: EventActor;
  /** The event's data without `executionId` and `seq`, which are filled in here. */
  data: Omit<EventData<T>, "executionId" | "seq">;
  context: EventContext;
  occurredAt?: Date;
}

/**
 * Appends an execution's event to the outbox and to `execution_events` with the execution's
 * next seq, inside the caller's transaction. Taking the seq updates the execution row, so the
 * row stays locked until the transaction ends and no two events of one execution share a seq.
 * The execution row must exist (insert it first). Publish the returned row after the commit.
 */
export async function recordExecutionEvent<T extends ExecutionEventType>(tx: Transaction<ExecutionDb>, event: NewExecutionEvent<T>): Promise<OutboxRow> {
  const next = await tx
    .updateTable("executions")
    .set({ last_event_seq: sql<number>`last_event_seq + 1` })
    .where("id", "=", event.executionId)
    .returning("last_event_seq")
    .executeTakeFirstOrThrow(() => new Error(`no execution ${event.executionId} to record ${event.type} for`));
  const seq = next.last_event_seq;
  // The catalog entry's schema checks the whole data in appendEvent; the spread only adds the two fields.
  const data = { ...event.data, executionId: event.executionId, seq } as EventData<T>;
  const row = await appendEvent(tx, { type: event.type, workspaceId: event.workspaceId, actor: event.actor, data, context: event.context, ...(event.occurredAt ? { occurredAt: event.occurredAt } : {}) });
  await tx
    .insertInto("execution_events")
    .values({
      workspace_id: event.workspaceId,
      execution_id: event.executionId,
      seq,
      event_id: row.id,
      type: event.type,
      payload: JSON.stringify(row.payload),
      occurred_at: new Date(row.payload.occurredAt),
    })
    .execute();
  return row;
}

export interface StoredExecutionEvent {
  seq: number;
  type: string;
  event: EventEnvelope;
}

/** An execution's stored events after `afterSeq`, in order, at most `limit`. */
export async function listExecutionEvents(db: Db, executionId: string, afterSeq: number, limit: number): Promise<StoredExecutionEvent[]> {
  const rows = await db
    .selectFrom("execution_events")
    .select(["seq", "type", "payload"])
    .where("execution_id", "=", executionId)
    .where("seq", ">", afterSeq)
    .orderBy("seq")
    .limit(limit)
    .execute();
  return rows.map((r) => ({ seq: r.seq, type: r.type, event: EventEnvelope.parse(r.payload) }));
}
