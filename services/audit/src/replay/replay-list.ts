import { cursorPage, decodeCursor, encodeCursor, pagination, Uuid, type Pagination, type ReplayListQuery } from "@galaxy/contracts";
import { sql, type Selectable, type Transaction } from "@galaxy/db";
import type { AuditDb, ReplayRunsTable } from "../db";

type Row = Selectable<ReplayRunsTable>;

const LIST = "replays";

/**
 * A page of replay runs, newest first (`created_at`, then id). With a cursor (the last run's
 * id), the page starts after that run by keyset and nothing is counted; without one, it is the
 * offset form with its `total` (docs/api.md, Pagination).
 */
export async function listReplayRuns(tx: Transaction<AuditDb>, query: ReplayListQuery): Promise<{ rows: Row[]; pagination: Pagination }> {
  const filters = { status: query.status, target: query.target };
  const nextCursor = (last: Row) => encodeCursor(LIST, filters, last.id);
  let filtered = tx.selectFrom("replay_runs");
  if (query.status) filtered = filtered.where("status", "=", query.status);
  if (query.target) filtered = filtered.where("target", "=", query.target);
  if (query.cursor === undefined) {
    const rows = await filtered.selectAll().orderBy("created_at", "desc").orderBy("id", "desc").limit(query.limit).offset(query.offset).execute();
    const { total } = await filtered.select((eb) => eb.fn.countAll<number>().as("total")).executeTakeFirstOrThrow();
    const page = pagination(Number(total), query);
    const last = rows.at(-1);
    return { rows, pagination: { ...page, nextCursor: page.hasMore && last ? nextCursor(last) : null } };
  }
  const after = decodeCursor(LIST, filters, query.cursor, Uuid);
  if (after !== undefined) filtered = filtered.where(sql<boolean>`(created_at, id) < (select r.created_at, r.id from replay_runs r where r.id = ${after})`);
  const rows = await filtered.selectAll().orderBy("created_at", "desc").orderBy("id", "desc").limit(query.limit + 1).execute();
  const page = cursorPage(rows, query.limit, nextCursor);
  return { rows: page.items, pagination: page.pagination };
}
