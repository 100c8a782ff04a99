import { sql, type Kysely } from "kysely";
import { createSecurityDefinerFunction } from "@galaxy/db";

/**
 * The fair claim ranks the heads of the queues, not the whole queue (docs/benchmarks.md, "What
 * limits one machine"). It used to number every queued execution of every workspace with room
 * at each claim, so a backlog of thousands was ranked again for every execution taken, and
 * Postgres became the largest user of CPU under load. Now it finds the waiting workspaces by
 * skipping through an index of queued rows by workspace (one probe per workspace), and takes
 * from each only as many of its oldest as it has free slots. The order it hands out is the
 * same: the oldest queued execution of every workspace below its limit, then the second of
 * each, and so on; expired leases first.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index executions_queued_by_workspace on executions (workspace_id, created_at, id) where status = 'queued'`.execute(db);
  await createClaim(db, HEADS);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await createClaim(db, WHOLE_QUEUE);
  await sql`drop index if exists executions_queued_by_workspace`.execute(db);
}

// The queued executions a claim may take, as `ranked (id, created_at, free_slots, rank)`.
const HEADS = `with recursive waiting(workspace_id) as (
             (select workspace_id from executions where status = 'queued' order by workspace_id limit 1)
             union all
             select (select e.workspace_id from executions e
                      where e.status = 'queued' and e.workspace_id > w.workspace_id
                      order by e.workspace_id limit 1)
               from waiting w where w.workspace_id is not null
           ), limits as (
             select w.workspace_id,
                    coalesce((p_concurrency ->> coalesce(t.tier, 'free'))::int, 1)
                      - (select count(*) from executions r where r.workspace_id = w.workspace_id and r.status = 'running')::int as free_slots
               from waiting w left join workspace_tiers t on t.workspace_id = w.workspace_id
              where w.workspace_id is not null
           ), ranked as (
             select h.id, h.created_at, l.free_slots,
                    row_number() over (partition by l.workspace_id order by h.created_at, h.id) as rank
               from limits l
               cross join lateral (
                 select e.id, e.created_at
                   from executions e
                  where e.workspace_id = l.workspace_id and e.status = 'queued'
                  order by e.created_at, e.id
                  limit l.free_slots
               ) h
              where l.free_slots > 0
           )`;

const WHOLE_QUEUE = `with waiting as (
             select distinct workspace_id from executions where status = 'queued'
           ), limits as (
             select w.workspace_id,
                    coalesce((p_concurrency ->> coalesce(t.tier, 'free'))::int, 1)
                      - (select count(*) from executions r where r.workspace_id = w.workspace_id and r.status = 'running')::int as free_slots
               from waiting w left join workspace_tiers t on t.workspace_id = w.workspace_id
           ), ranked as (
             select e.id, e.created_at, l.free_slots,
                    row_number() over (partition by e.workspace_id order by e.created_at, e.id) as rank
               from executions e join limits l on l.workspace_id = e.workspace_id
              where e.status = 'queued' and l.free_slots > 0
           )`;

async function createClaim(db: Kysely<unknown>, candidates: string): Promise<void> {
  await createSecurityDefinerFunction(db, "execution-worker", {
    name: "claim_queued_executions",
    args: "p_owner text, p_limit int, p_lease_ms int, p_concurrency jsonb",
    returns: "table (id uuid, workspace_id uuid)",
    volatility: "volatile",
    body: `select pg_advisory_xact_lock(hashtext('execution.claim_queued_executions'));
           ${candidates}, fair as (
             select r.id, r.rank, r.created_at from ranked r
              where r.rank <= r.free_slots
              order by r.rank, r.created_at, r.id
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
               select a.id, 0 as prio, 0::bigint as rank, now() as created_at from abandoned a
               union all
               select c.id, 1, f.rank, f.created_at from candidates c join fair f on f.id = c.id
             ) c
             order by c.prio, c.rank, c.created_at limit p_limit
           )
           update executions e
              set status = 'running', lease_owner = p_owner, attempt = e.attempt + 1,
                  lease_expires_at = now() + make_interval(secs => p_lease_ms / 1000.0)
             from picked
            where e.id = picked.id
           returning e.id, e.workspace_id`,
    reason:
      "The scheduler picks queued executions (and ones whose worker's lease expired) of every workspace before it knows which workspace each belongs to, round robin across workspaces and within each workspace's concurrency.",
  });
}
