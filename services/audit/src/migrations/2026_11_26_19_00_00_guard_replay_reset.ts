import { sql, type Kysely } from "kysely";
import { AUDIT_LOCK_SPACE } from "../audit-log/audit-log.repository";

/**
 * `audit.replay_reset` empties a workspace's chain only for the replay that rebuilds it
 * (docs/replay.md, docs/security.md). It used to take any workspace from the login role and
 * drop the retention checkpoint too, so one call could empty a chain, and a rebuild could bring
 * back entries retention had removed. Now it refuses unless:
 *
 * - a reset replay of that workspace's audit log is running (`replay_runs`) and holds the
 *   workspace (`replay_holds`, consumer `audit`): live events of it are kept aside meanwhile;
 * - the workspace has no retention checkpoint: a chain retention has pruned cannot be rebuilt
 *   from `EVENTS` with the same `seq` and hashes, and its removed entries must stay removed.
 *
 * The checkpoint is never deleted. Written in PL/pgSQL (the only function here that is) to
 * raise a clear error; owned by the owner role, search_path pinned, only galaxy_audit may
 * execute it, as `createSecurityDefinerFunction` makes the others.
 */

const REFUSED = "P0001";

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`drop function if exists audit.replay_reset(uuid)`.execute(db);
  await sql
    .raw(
      `create function audit.replay_reset(p_workspace_id uuid) returns bigint
         language plpgsql volatile security definer set search_path = audit, pg_temp as $fn$
       declare
         removed bigint;
       begin
         perform pg_advisory_xact_lock(${AUDIT_LOCK_SPACE}, hashtext(p_workspace_id::text));
         if not exists (
           select 1 from replay_runs r join replay_holds h on h.replay_id = r.id
            where r.status = 'running' and r.reset and not r.dry_run and r.target = 'audit'
              and r.filter_workspace_id = p_workspace_id
              and h.workspace_id = p_workspace_id and h.consumer = 'audit'
         ) then
           raise exception 'audit.replay_reset refused: no running reset replay holds workspace %', p_workspace_id
             using errcode = '${REFUSED}', hint = 'start a replay with reset of this workspace (galaxy replay --reset)';
         end if;
         if exists (select 1 from audit_checkpoints where workspace_id = p_workspace_id) then
           raise exception 'audit.replay_reset refused: retention has pruned workspace %; its chain cannot be rebuilt from the start', p_workspace_id
             using errcode = '${REFUSED}', hint = 'replay it without reset';
         end if;
         delete from audit_logs where workspace_id = p_workspace_id;
         get diagnostics removed = row_count;
         return removed;
       end
       $fn$`,
    )
    .execute(db);
  await sql
    .raw(
      `comment on function audit.replay_reset(uuid) is ${quote(
        "An operator replay with reset (docs/replay.md): empties one workspace's audit chain so the replay rebuilds it from EVENTS with the same seq and hash values; only while a running reset replay of that workspace holds it, never for a workspace with a retention checkpoint, which it keeps.",
      )}`,
    )
    .execute(db);
  await sql`revoke all on function audit.replay_reset(uuid) from public`.execute(db);
  await sql`grant execute on function audit.replay_reset(uuid) to galaxy_audit`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  // Back to the function of 2026_11_26_15_00_00, as it was.
  await sql`drop function if exists audit.replay_reset(uuid)`.execute(db);
  await sql
    .raw(
      `create function audit.replay_reset(p_workspace_id uuid) returns bigint language sql volatile security definer set search_path = audit, pg_temp as $fn$
       select pg_advisory_xact_lock(${AUDIT_LOCK_SPACE}, hashtext(p_workspace_id::text));
       with removed as (delete from audit_logs where workspace_id = p_workspace_id returning 1),
            dropped as (delete from audit_checkpoints where workspace_id = p_workspace_id returning 1)
       select count(*) from removed $fn$`,
    )
    .execute(db);
  await sql`revoke all on function audit.replay_reset(uuid) from public`.execute(db);
  await sql`grant execute on function audit.replay_reset(uuid) to galaxy_audit`.execute(db);
}

function quote(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
