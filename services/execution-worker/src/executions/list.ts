import { cursorPage, decodeCursor, encodeCursor, fitPage, pagination, Uuid, ValidationError, type ListExecutionsRequest, type Pagination } from "@galaxy/contracts";
import { sql, type Kysely, type Transaction } from "@galaxy/db";
import type { ExecutionDb } from "../db";
import type { ExecutionRow } from "./executions.repository";

type Db = Kysely<ExecutionDb> | Transaction<ExecutionDb>;

const LIST = "executions";
/** The cursor's key: the last execution of the page (its `created_at` and id are read back, at full precision). */
const CursorKey = Uuid;

/** The workspace's executions that match the request's filters (an index serves each: docs/api.md, Executions). */
function matching(db: Db, request: ListExecutionsRequest) {
  let query = db.selectFrom("executions");
  if (request.status) query = query.where("status", "=", request.status);
  if (request.agentId) query = query.where("agent_id", "=", request.agentId);
  if (request.triggerType) query = query.where(sql<string>`trigger->>'type'`, "=", request.triggerType);
  if (request.createdAfter) query = query.where("created_at", ">=", new Date(request.createdAfter));
  if (request.createdBefore) query = query.where("created_at", "<", new Date(request.createdBefore));
  return query;
}

function checkRange(request: ListExecutionsRequest): void {
  if (request.createdAfter && request.createdBefore && Date.parse(request.createdAfter) > Date.parse(request.createdBefore)) {
    throw new ValidationError("createdAfter must not be later than createdBefore", { "querystring.createdAfter": "later than createdBefore" });
  }
}

/**
 * A page of the workspace's executions, newest first (`created_at`, then id). With a cursor,
 * the page starts after the cursor's execution by keyset, whatever the list's length, and
 * nothing is counted; without one, it is the offset form with its `total` (docs/api.md). A
 * page whose executions carry large inputs or outputs is cut short (`fitPage`), so its reply
 * fits in one bus message.
 */
export async function listExecutionsPage(db: Db, request: ListExecutionsRequest): Promise<{ rows: ExecutionRow[]; pagination: Pagination }> {
  checkRange(request);
  const { status, agentId, triggerType, createdAfter, createdBefore } = request;
  const filters = { status, agentId, triggerType, createdAfter, createdBefore };
  const nextCursor = (last: ExecutionRow) => encodeCursor(LIST, filters, last.id);
  if (request.cursor === undefined) {
    const query = matching(db, request);
    const [rows, count] = await Promise.all([
      query.selectAll().orderBy("created_at", "desc").orderBy("id", "desc").limit(request.limit).offset(request.offset).execute(),
      query.select((eb) => eb.fn.countAll<string>().as("n")).executeTakeFirstOrThrow(),
    ]);
    const page = pagination(Number(count.n), request);
    const last = rows.at(-1);
    const fitted = fitPage(rows, { ...page, nextCursor: page.hasMore && last ? nextCursor(last) : null }, nextCursor);
    return { rows: fitted.items, pagination: fitted.pagination };
  }
  const after = decodeCursor(LIST, filters, request.cursor, CursorKey);
  let query = matching(db, request).selectAll();
  if (after !== undefined) query = query.where(sql<boolean>`(created_at, id) < (select e.created_at, e.id from executions e where e.id = ${after})`);
  const rows = await query.orderBy("created_at", "desc").orderBy("id", "desc").limit(request.limit + 1).execute();
  const page = cursorPage(rows, request.limit, nextCursor);
  const fitted = fitPage(page.items, page.pagination, nextCursor);
  return { rows: fitted.items, pagination: fitted.pagination };
}
