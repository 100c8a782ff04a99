import { sql, type Kysely } from "kysely";
import { AUDIT_LOCK_SPACE } from "../audit-log/audit-log.repository";
import { AUDIT_HOLD_LOCK_SPACE } from "../audit-log/append-entries";

/**
 * `audit.append_entries(groups)`: how the ingest leader and replays write a whole batch of
 * entries, of any number of workspaces, in one statement and one transaction
 * (docs/audit-chain.md, "Ingest"; docs/security.md lists it).
 *
 * `groups` is a JSON array, one element per workspace, in workspace id order (so two callers
 * never wait on each other's locks in a circle):
 * `{ws, check_hold, after_hash, ids, rows}`. For each, the function
 * - when `check_hold`, takes the workspace's replay-hold lock shared (the key of
 *   `ReplayHolds` in libs/db: a hold starts only after every live write that missed it ended)
 *   and answers `held`, writing nothing, when a reset replay holds the workspace;
 * - takes the chain's lock (the key of `retention_prune` and `replay_reset`);
 * - answers `stale`, with the chain's head and which of `ids` are entries already, writing
 *   nothing, unless the chain ends at `after_hash` and none of `ids` is recorded;
 * - otherwise inserts `rows` as entries of that workspace alone (the workspace id of every row
 *   is `ws`), after checking they continue the chain: `seq` from the head's plus one, each
 *   `prev_hash` the hash before it. A row that does not raises (nothing of the call commits).
 *
 * The hashes themselves are computed and checked by audit (verification reads them back):
 * SQL has no RFC 8785 canonical JSON. Security definer because one statement writes rows of
 * many workspaces, which row-level security (one `app.workspace_id` per transaction) cannot
 * admit; the login role keeps only its own narrower rights otherwise.
 */
const GENESIS = "0".repeat(64);
const ROW_TYPE = `id uuid, seq bigint, stream_seq bigint, actor_type text, actor_id text, action text, resource_type text,
  resource_id text, changes jsonb, ip_address text, user_agent text, trace_id text, occurred_at text, hash text, prev_hash text`;

/** Which of the group's ids are entries of the workspace already, as this migration first wrote it. */
export const RECORDED_BY_WORKSPACE = `           select coalesce(jsonb_agg(l.id), '[]'::jsonb) into recorded from audit_logs l
            where l.workspace_id = ws and l.id in (select value::uuid from jsonb_array_elements_text(g->'ids'));`;

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql.raw(appendEntriesFunction("create", RECORDED_BY_WORKSPACE)).execute(db);
  await sql
    .raw(
      `comment on function audit.append_entries(jsonb) is 'The ingest leader and replays append a batch of entries of many workspaces in one statement: per workspace (in id order) the replay hold checked under its lock when asked, the chain locked, nothing written unless the chain ends where the caller says and none of the events is recorded, rows checked to continue the chain, written as that workspace''s.'`,
    )
    .execute(db);
  await sql`revoke all on function audit.append_entries(jsonb) from public`.execute(db);
  await sql`grant execute on function audit.append_entries(jsonb) to galaxy_audit`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function if exists audit.append_entries(jsonb)`.execute(db);
}

/**
 * The function's definition; `recorded` is the statement that sets `recorded` (the group's ids
 * that are entries of workspace `ws` already, a JSON array).
 */
export function appendEntriesFunction(verb: "create" | "create or replace", recorded: string): string {
  return `${verb} function audit.append_entries(p_groups jsonb) returns jsonb
         language plpgsql volatile security definer set search_path = audit, pg_temp as $fn$
       declare
         g jsonb;
         ws uuid;
         head_seq bigint;
         head_hash text;
         head_stream bigint;
         recorded jsonb;
         inserted bigint;
         answer jsonb := '[]'::jsonb;
       begin
         for g in select value from jsonb_array_elements(p_groups) loop
           ws := (g->>'ws')::uuid;
           if (g->>'check_hold')::boolean then
             perform pg_advisory_xact_lock_shared(${AUDIT_HOLD_LOCK_SPACE}, hashtext('audit:' || ws::text));
             if exists (select 1 from replay_holds h where h.workspace_id = ws and h.consumer = 'audit') then
               answer := answer || jsonb_build_array(jsonb_build_object('ws', ws, 'status', 'held'));
               continue;
             end if;
           end if;
           perform pg_advisory_xact_lock(${AUDIT_LOCK_SPACE}, hashtext(ws::text));
           select l.seq, l.hash, l.stream_seq into head_seq, head_hash, head_stream
             from audit_logs l where l.workspace_id = ws order by l.seq desc limit 1;
           if not found then
             head_stream := null;
             select c.seq, c.hash into head_seq, head_hash from audit_checkpoints c where c.workspace_id = ws;
             if not found then
               head_seq := 0;
               head_hash := '${GENESIS}';
             end if;
           end if;
${recorded}
           if head_hash is distinct from g->>'after_hash' or jsonb_array_length(recorded) > 0 then
             answer := answer || jsonb_build_array(jsonb_build_object('ws', ws, 'status', 'stale', 'seq', head_seq, 'hash', head_hash, 'stream_seq', head_stream, 'recorded', recorded));
             continue;
           end if;
           -- One pass over the rows: those that do not continue the chain are left out, and then
           -- the count tells (and the exception undoes the insert).
           insert into audit_logs (id, workspace_id, seq, stream_seq, actor_type, actor_id, action, resource_type, resource_id, changes,
                                   ip_address, user_agent, trace_id, occurred_at, occurred_at_ts, hash, prev_hash)
           select r.id, ws, r.seq, r.stream_seq, r.actor_type, r.actor_id, r.action, r.resource_type, r.resource_id, r.changes,
                  r.ip_address, r.user_agent, r.trace_id, r.occurred_at, r.occurred_at::timestamptz, r.hash, r.prev_hash
             from (select x.*, lag(x.hash, 1, head_hash) over (order by x.seq) as before, row_number() over (order by x.seq) as n
                     from jsonb_to_recordset(g->'rows') as x(${ROW_TYPE})) r
            where r.seq = head_seq + r.n and r.prev_hash = r.before
            order by r.seq;
           get diagnostics inserted = row_count;
           if inserted <> jsonb_array_length(g->'rows') then
             raise exception 'audit.append_entries refused: the rows of workspace % do not continue its chain after seq %', ws, head_seq using errcode = 'P0001';
           end if;
           answer := answer || jsonb_build_array(jsonb_build_object('ws', ws, 'status', 'applied', 'inserted', inserted));
         end loop;
         return answer;
       end
       $fn$`;
}
