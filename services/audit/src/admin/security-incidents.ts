import { z } from "zod";
import {
  IsoDateTime, SYSTEM_WORKSPACE_ID, Uuid, cursorPage, decodeCursor, encodeCursor, pagination, type ReplyData, type SecurityIncidentsQuery, type WorkspaceClaim,
} from "@galaxy/contracts";
import { sql, type Kysely, type Selectable } from "@galaxy/db";
import { toAuditEntry } from "../audit-log/audit-log.repository";
import type { AuditDb, AuditLogsTable } from "../db";
import { SystemAdminRequiredError } from "../errors";

type Row = Selectable<AuditLogsTable>;

const LIST = "security_incidents";
/** The cursor's key: the last entry's `occurred_at` (the exact string, so no precision is lost) and id. */
const CursorKey = z.tuple([IsoDateTime, Uuid]);

/**
 * An operator claim of the system workspace: what identity issues to the CLI and, for
 * `/api/admin/*`, to users who hold the `system_admin` flag. It reads across workspaces here and
 * the system workspace's own log; inside a workspace it is no member (`authorize`).
 */
export function isSystemOperator(claim: WorkspaceClaim): boolean {
  return claim.act === "operator" && claim.ws === SYSTEM_WORKSPACE_ID;
}

/** `audit.security_incidents.list`: the `security.*` entries of every workspace, newest first. */
export class SecurityIncidentsService {
  constructor(private readonly db: Kysely<AuditDb>) {}

  /**
   * By keyset on (`occurred_at`, id) with a cursor, nothing counted; the offset form with its
   * `total` without one (docs/api.md, Pagination).
   *
   * @throws {SystemAdminRequiredError} the claim is not an operator claim of the system workspace
   * @throws {InvalidCursorError} a cursor of another list or other filters
   */
  async list(claim: WorkspaceClaim, query: SecurityIncidentsQuery): Promise<ReplyData<"audit.security_incidents.list">> {
    if (!isSystemOperator(claim)) throw new SystemAdminRequiredError();
    const { limit, offset, cursor, ...filterValues } = query;
    const nextCursor = (last: Row) => encodeCursor(LIST, filterValues, [last.occurred_at, last.id]);
    const filters = sql`${query.action ?? null}::text, ${query.workspaceId ?? null}::uuid, ${query.since ?? null}::timestamptz, ${query.until ?? null}::timestamptz`;
    // Through security-definer functions: the login role sees one workspace at a time (docs/security.md).
    if (cursor === undefined) {
      const rows = await sql<Row>`select * from audit.security_incidents(${filters}, ${limit}::int, ${offset}::int)`.execute(this.db);
      const count = await sql<{ total: number }>`select audit.security_incidents_count(${filters}) as total`.execute(this.db);
      const page = pagination(Number(count.rows[0]?.total ?? 0), query);
      const last = rows.rows.at(-1);
      return { items: rows.rows.map(toAuditEntry), pagination: { ...page, nextCursor: page.hasMore && last ? nextCursor(last) : null } };
    }
    const [afterAt, afterId] = decodeCursor(LIST, filterValues, cursor, CursorKey) ?? [null, null];
    const rows = await sql<Row>`select * from audit.security_incidents_after(${filters}, ${afterAt}::timestamptz, ${afterId}::uuid, ${limit + 1}::int)`.execute(this.db);
    const page = cursorPage(rows.rows, limit, nextCursor);
    return { items: page.items.map(toAuditEntry), pagination: page.pagination };
  }
}
