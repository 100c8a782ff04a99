import { z } from "zod";
import { cursorPage, decodeCursor, encodeCursor, pagination, type CallbackDelivery, type DeliveriesRequest, type Pagination } from "@galaxy/contracts";
import { sql, type Transaction } from "@galaxy/db";
import type { ExecutionDb } from "../db";

const LIST = "deliveries";
/** The cursor's key: the last attempt of the page and its event (attempts are numbered per terminal event). */
const CursorKey = z.tuple([z.number().int().min(1), z.string().uuid()]);

interface DeliveryRow {
  attempt: number;
  url: string;
  status: CallbackDelivery["status"];
  response_status: number | null;
  at: Date;
  next_attempt_at: Date | null;
  event_id: string;
}

function toDelivery(row: DeliveryRow): CallbackDelivery {
  return {
    attempt: row.attempt,
    url: row.url,
    status: row.status,
    responseStatus: row.response_status,
    at: (row.status === "pending" && row.next_attempt_at ? row.next_attempt_at : row.at).toISOString(),
  };
}

/**
 * One page of an execution's attempts, in order (attempt, then event). With a cursor, the page
 * starts after the cursor's attempt by keyset and nothing is counted; without one, it is the
 * offset form with its `total` (docs/api.md, Pagination).
 */
export async function listDeliveries(tx: Transaction<ExecutionDb>, request: DeliveriesRequest): Promise<{ items: CallbackDelivery[]; pagination: Pagination }> {
  const filters = { executionId: request.id };
  const nextCursor = (last: DeliveryRow) => encodeCursor(LIST, filters, [last.attempt, last.event_id]);
  const attempts = tx
    .selectFrom("callback_deliveries")
    .select(["attempt", "url", "status", "response_status", "at", "next_attempt_at", "event_id"])
    .where("execution_id", "=", request.id)
    .orderBy("attempt", "asc")
    .orderBy("event_id", "asc");
  if (request.cursor === undefined) {
    const totalRow = await tx.selectFrom("callback_deliveries").select((eb) => eb.fn.countAll<number>().as("total")).where("execution_id", "=", request.id).executeTakeFirstOrThrow();
    const rows = await attempts.limit(request.limit).offset(request.offset).execute();
    const page = pagination(Number(totalRow.total), request);
    const last = rows.at(-1);
    return { items: rows.map(toDelivery), pagination: { ...page, nextCursor: page.hasMore && last ? nextCursor(last) : null } };
  }
  const after = decodeCursor(LIST, filters, request.cursor, CursorKey);
  const rows = await (after === undefined ? attempts : attempts.where(sql<boolean>`(attempt, event_id) > (${after[0]}, ${after[1]}::uuid)`)).limit(request.limit + 1).execute();
  const page = cursorPage(rows, request.limit, nextCursor);
  return { items: page.items.map(toDelivery), pagination: page.pagination };
}
