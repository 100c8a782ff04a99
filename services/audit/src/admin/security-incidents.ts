import { SYSTEM_WORKSPACE_ID, pagination, type ReplyData, type SecurityIncidentsQuery, type WorkspaceClaim } from "@galaxy/contracts";
import { sql, type Kysely, type Selectable } from "@galaxy/db";
import { toAuditEntry } from "../audit-log/audit-log.repository";
import type { AuditDb, AuditLogsTable } from "../db";
import { SystemAdminRequiredError } from "../errors";

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

  /** @throws {SystemAdminRequiredError} the claim is not an operator claim of the system workspace */
  async list(claim: WorkspaceClaim, query: SecurityIncidentsQuery): Promise<ReplyData<"audit.security_incidents.list">> {
    if (!isSystemOperator(claim)) throw new SystemAdminRequiredError();
    const filters = sql`${query.action ?? null}::text, ${query.workspaceId ?? null}::uuid, ${query.since ?? null}::timestamptz, ${query.until ?? null}::timestamptz`;
    // Through security-definer functions: the login role sees one workspace at a time (docs/security.md).
    const rows = await sql<Selectable<AuditLogsTable>>`select * from audit.security_incidents(${filters}, ${query.limit}::int, ${query.offset}::int)`.execute(this.db);
    const count = await sql<{ total: number }>`select audit.security_incidents_count(${filters}) as total`.execute(this.db);
    const total = count.rows[0]?.total ?? 0;
    return { items: rows.rows.map(toAuditEntry), pagination: pagination(total, query) };
  }
}
