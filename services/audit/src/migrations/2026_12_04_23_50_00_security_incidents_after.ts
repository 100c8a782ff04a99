import { sql, type Kysely } from "kysely";
import { createSecurityDefinerFunction } from "@galaxy/db";

const FILTER = `action like 'security.%'
           and (p_action is null or action = p_action)
           and (p_workspace_id is null or workspace_id = p_workspace_id)
           and (p_since is null or occurred_at_ts >= p_since)
           and (p_until is null or occurred_at_ts < p_until)`;
const ARGS = "p_action text, p_workspace_id uuid, p_since timestamptz, p_until timestamptz, p_after_at timestamptz, p_after_id uuid, p_limit int";

/**
 * The cursor form of `GET /api/admin/security-incidents` (docs/api.md, Pagination): the page
 * after the entry (`occurred_at_ts`, id), by keyset on the list's order and its index
 * `audit_logs_security`, so a deep page costs what the first does. Null `p_after_*`: the first page.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await createSecurityDefinerFunction(db, "audit", {
    name: "security_incidents_after",
    args: ARGS,
    returns: "setof audit_logs",
    body: `select * from audit_logs where ${FILTER}
             and (p_after_at is null or (occurred_at_ts, id) < (p_after_at, p_after_id))
           order by occurred_at_ts desc, id desc limit p_limit`,
    reason: "System admins page the security incidents (security.* entries) of every workspace by cursor; audit answers only an operator claim of the system workspace.",
  });
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql.raw(`drop function if exists audit.security_incidents_after(${ARGS})`).execute(db);
}
