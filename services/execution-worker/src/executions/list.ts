import { cursorPage, decodeCursor, encodeCursor, pagination, Uuid, type ListExecutionsRequest, type Pagination } from "@galaxy/contracts";
import { sql, type Kysely, type Transaction } from "@galaxy/db";
import type { ExecutionDb } from "../db";
import { listExecutions, type ExecutionRow } from "./executions.repository";

type Db = Kysely<ExecutionDb> | Transaction<ExecutionDb>;

const LIST = "executions";
/** The cursor's key: the last execution of the page (its `created_at` and id are read back, at full precision). */
const CursorKey = Uuid;

/**
 * A page of the workspace's executions, newest first (`created_at`, then id). With a cursor,
 * the page starts after the cursor's execution by keyset, whatever the list's length, and
 * nothing is counted; without one, it is the offset form with its `total` (docs/api.md).
 */
export async function listExecutionsPage(db: Db, request: ListExecutionsRequest): Promise<{ rows: ExecutionRow[]; pagination: Pagination }> {
  const filters = { status: request.status, agentId: request.agentId };
  const nextCursor = (last: ExecutionRow) => encodeCursor(LIST, filters, last.id);
  if (request.cursor === undefined) {
    const { rows, total } = await listExecutions(db, request);
    const page = pagination(total, request);
    const last = rows.at(-1);
    return { rows, pagination: { ...page, nextCursor: page.hasMore && last ? nextCursor(last) : null } };
  }
  const after = decodeCursor(LIST, filters, request.cursor, CursorKey);
  let query = db.selectFrom("executions").selectAll();
  if (request.status) query = query.where("status", "=", request.status);
  if (request.agentId) query = query.where("agent_id", "=", request.agentId);
  if (after !== undefined) query = query.where(sql<boolean>`(created_at, id) < (select e.created_at, e.id from executions e where e.id = ${after})`);
  const rows = await query.orderBy("created_at", "desc").orderBy("id", "desc").limit(request.limit + 1).execute();
  const page = cursorPage(rows, request.limit, nextCursor);
  return { rows: page.items, pagination: page.pagination };
}
