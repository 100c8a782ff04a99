import { sql, type Kysely } from "kysely";
import { createSecurityDefinerFunction } from "@galaxy/db";
import { AUDIT_LOCK_SPACE } from "../audit-log/audit-log.repository";

/**
 * The only two ways rows leave `audit_logs` (the login role may not update or delete it):
 * retention removes the oldest part of a chain and moves the checkpoint, and a replay reset
 * empties a workspace's chain before it is rebuilt from `EVENTS`. Both take the chain's lock
 * (the same advisory key, `AUDIT_LOCK_SPACE` in audit-log.repository.ts) so no writer appends
 * meanwhile.
 */

const LOCK = `select pg_advisory_xact_lock(${AUDIT_LOCK_SPACE}, hashtext(p_workspace_id::text));`;

/** The shortest retention of any tier: retention_prune never removes an entry younger than this. */
const MIN_AGE = "30 days";

export async function up(db: Kysely<unknown>): Promise<void> {
  await createSecurityDefinerFunction(db, "audit", {
    name: "retention_prune",
    args: "p_workspace_id uuid, p_through_seq bigint",
    returns: "bigint",
    volatility: "volatile",
    body: `${LOCK}
      with last_removed as (
        select hash from audit_logs where workspace_id = p_workspace_id and seq = p_through_seq
      ), allowed as (
        select hash from last_removed
         where not exists (select 1 from audit_logs
                            where workspace_id = p_workspace_id and seq <= p_through_seq
                              and occurred_at_ts >= now() - interval '${MIN_AGE}')
      ), removed as (
        delete from audit_logs
         where workspace_id = p_workspace_id and seq <= p_through_seq and exists (select 1 from allowed)
        returning 1
      ), moved as (
        insert into audit_checkpoints (workspace_id, seq, hash)
        select p_workspace_id, p_through_seq, hash from allowed
        on conflict (workspace_id) do update set seq = excluded.seq, hash = excluded.hash, created_at = now()
        returning 1
      )
      select count(*) from removed`,
    reason:
      "Retention (an operator action): removes the oldest entries of one workspace's chain, through p_through_seq, and sets the checkpoint to that entry's seq and hash; only a prefix, only entries older than 30 days, nothing unless that entry exists. audit exports the prefix first.",
  });
  await createSecurityDefinerFunction(db, "audit", {
    name: "replay_reset",
    args: "p_workspace_id uuid",
    returns: "bigint",
    volatility: "volatile",
    body: `${LOCK}
      with removed as (delete from audit_logs where workspace_id = p_workspace_id returning 1),
           dropped as (delete from audit_checkpoints where workspace_id = p_workspace_id returning 1)
      select count(*) from removed`,
    reason:
      "An operator replay with reset (docs/replay.md): empties one workspace's audit chain and its checkpoint, so the replay rebuilds it from EVENTS with the same seq and hash values.",
  });
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function if exists audit.replay_reset(uuid)`.execute(db);
  await sql`drop function if exists audit.retention_prune(uuid, bigint)`.execute(db);
}
