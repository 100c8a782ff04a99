import { sql, type Kysely } from "kysely";
import { createSecurityDefinerFunction } from "@galaxy/db";

const FILTER = `action like 'security.%'
           and (p_action is null or action = p_action)
           and (p_workspace_id is null or workspace_id = p_workspace_id)
           and (p_since is null or occurred_at_ts >= p_since)
           and (p_until is null or occurred_at_ts < p_until)`;
const ARGS = "p_action text, p_workspace_id uuid, p_since timestamptz, p_until timestamptz";

/**
 * `GET /api/admin/security-incidents` (system admins): the `security.*` entries of every
 * workspace's chain and of the system workspace's, newest first.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index audit_logs_security on audit_logs (occurred_at_ts desc, id desc) where action like 'security.%'`.execute(db);
  await createSecurityDefinerFunction(db, "audit", {
    name: "security_incidents",
    args: `${ARGS}, p_limit int, p_offset int`,
    returns: "setof audit_logs",
    body: `select * from audit_logs where ${FILTER} order by occurred_at_ts desc, id desc limit p_limit offset p_offset`,
    reason: "System admins read the security incidents (security.* entries) of every workspace at once; audit answers only an operator claim of the system workspace.",
  });
  await createSecurityDefinerFunction(db, "audit", {
    name: "security_incidents_count",
    args: ARGS,
    returns: "bigint",
    body: `select count(*) from audit_logs where ${FILTER}`,
    reason: "The total of the security-incident list across workspaces, for its pagination.",
  });
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql.raw(`drop function if exists audit.security_incidents_count(${ARGS})`).execute(db);
  await sql.raw(`drop function if exists audit.security_incidents(${ARGS}, p_limit int, p_offset int)`).execute(db);
  await sql`drop index if exists audit_logs_security`.execute(db);
}
