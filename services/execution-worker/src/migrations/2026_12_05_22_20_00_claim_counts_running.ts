import { sql, type Kysely } from "kysely";
import { createSecurityDefinerFunction } from "@galaxy/db";

/**
 * The fair claim counts what each workspace already runs (docs/executions.md, "Fair scheduling").
 * It handed out the oldest queued execution of every workspace, then the second of each, and so
 * on; but each claim started that count at one. A claim for a single free slot, the usual case
 * once a busy worker's runs end one by one, then always went to the workspace with the oldest
 * queued execution: a backlog's, ahead of another workspace's lone delivery, for as long as the
 * backlog lasted. Now a workspace's queued execution stands at the place its run would take
 * among the workspace's running ones: a workspace running none goes before one running seven.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await createClaim(db, "l.running + ");
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await createClaim(db, "");
}

async function createClaim(db: Kysely<unknown>, runningFirst: string): Promise<void> {
  await createSecurityDefinerFunction(db, "execution-worker", {
    name: "claim_queued_executions",
    args: "p_owner text, p_limit int, p_lease_ms int, p_concurrency jsonb",
    returns: "table (id uuid, workspace_id uuid)",
    volatility: "volatile",
    body: `select ${CLAIM_LOCK}; ${claimQuery(runningFirst)}`,
    reason: CLAIM_REASON,
  });
}

/** Claims are taken one at a time, across every worker instance: the lock each takes first. */
export const CLAIM_LOCK = "pg_advisory_xact_lock(hashtext('execution.claim_queued_executions'))";

export const CLAIM_REASON =
  "The scheduler picks queued executions (and ones whose worker's lease expired) of every workspace before it knows which workspace each belongs to, fairly across workspaces (a workspace running fewer goes first) and within each workspace's concurrency.";

/** How later migrations change the claim's statement; the defaults are this migration's. */
export interface ClaimQueryOptions {
  /** Each workspace's running count computed once (`materialized`), not again for each of its queued rows. */
  runningOnce?: boolean;
  /** How many of a workspace's oldest queued executions are read: its free slots, or no more than the claim can take. */
  headsPerWorkspace?: string;
}

/** The claim's statement, after the lock; `runningFirst` is `"l.running + "` since this migration. */
export function claimQuery(runningFirst: string, options: ClaimQueryOptions = {}): string {
  const { runningOnce = false, headsPerWorkspace = "l.free_slots" } = options;
  return `with recursive waiting(workspace_id) as (
             (select workspace_id from executions where status = 'queued' order by workspace_id limit 1)
             union all
             select (select e.workspace_id from executions e
                      where e.status = 'queued' and e.workspace_id > w.workspace_id
                      order by e.workspace_id limit 1)
               from waiting w where w.workspace_id is not null
           ), running as ${runningOnce ? "materialized " : ""}(
             select w.workspace_id,
                    coalesce((p_concurrency ->> coalesce(t.tier, 'free'))::int, 1) as concurrency,
                    (select count(*) from executions r where r.workspace_id = w.workspace_id and r.status = 'running')::int as running
               from waiting w left join workspace_tiers t on t.workspace_id = w.workspace_id
              where w.workspace_id is not null
           ), limits as (
             select workspace_id, running, concurrency - running as free_slots from running
           ), ranked as (
             select h.id, h.created_at, l.free_slots,
                    row_number() over (partition by l.workspace_id order by h.created_at, h.id) as rank,
                    ${runningFirst}row_number() over (partition by l.workspace_id order by h.created_at, h.id) as place
               from limits l
               cross join lateral (
                 select e.id, e.created_at
                   from executions e
                  where e.workspace_id = l.workspace_id and e.status = 'queued'
                  order by e.created_at, e.id
                  limit ${headsPerWorkspace}
               ) h
              where l.free_slots > 0
           ), fair as (
             select r.id, r.place, r.created_at from ranked r
              where r.rank <= r.free_slots
              order by r.place, r.created_at, r.id
              limit p_limit
           ), candidates as (
             select e.id from executions e
              where e.id in (select f.id from fair f) and e.status = 'queued'
              for update skip locked
           ), abandoned as (
             select id from executions
             where status = 'running' and lease_expires_at < now()
             order by lease_expires_at, id
             limit p_limit
             for update skip locked
           ), picked as (
             select c.id from (
               select a.id, 0 as prio, 0::bigint as place, now() as created_at from abandoned a
               union all
               select c.id, 1, f.place, f.created_at from candidates c join fair f on f.id = c.id
             ) c
             order by c.prio, c.place, c.created_at limit p_limit
           )
           update executions e
              set status = 'running', lease_owner = p_owner, attempt = e.attempt + 1,
                  lease_expires_at = now() + make_interval(secs => p_lease_ms / 1000.0)
             from picked
            where e.id = picked.id
           returning e.id, e.workspace_id`;
}
