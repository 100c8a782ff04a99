import { sql, type Kysely } from "kysely";
import { createSecurityDefinerFunction, enableWorkspaceRls } from "@galaxy/db";

export async function up(db: Kysely<unknown>): Promise<void> {
  // A workspace's subscription tier; a workspace without a row is on the free tier. What each
  // tier allows lives in code (src/quota/tiers.ts), not here.
  await sql`create table workspace_tiers (
      workspace_id uuid primary key,
      tier text not null check (tier in ('free', 'pro', 'enterprise')),
      updated_at timestamptz not null default now()
    )`.execute(db);
  await enableWorkspaceRls(db, "workspace_tiers");

  // Tokens each workspace used per calendar month (UTC). An execution adds its tokens in the
  // transaction that records its end, which happens once, so usage is counted once.
  await sql`create table workspace_usage (
      workspace_id uuid not null,
      month date not null,
      tokens bigint not null default 0 check (tokens >= 0),
      executions int not null default 0,
      primary key (workspace_id, month)
    )`.execute(db);
  await enableWorkspaceRls(db, "workspace_usage");

  // Set by `execution.cancel` on a running execution: whichever instance runs it (or takes it
  // over after a crash) sees it and ends the execution `cancelled`.
  await sql`alter table executions add column cancel_requested_at timestamptz`.execute(db);
  await sql`create index executions_agent on executions (workspace_id, agent_id, created_at desc)`.execute(db);
  await sql`create index executions_running on executions (workspace_id) where status = 'running'`.execute(db);

  // Fair scheduling. One claim at a time across all instances (a transaction-scoped advisory
  // lock; a claim takes milliseconds), so no workspace exceeds its concurrency because two
  // schedulers counted its running executions at once. Candidates are ranked within their
  // workspace (oldest first) and taken rank by rank: the oldest queued execution of every
  // workspace below its limit, then the second of each, and so on. One workspace's backlog
  // therefore never delays another's first execution. `p_concurrency` maps each tier to its
  // per-workspace limit (passed from tiers.ts, the one place tiers are defined).
  await sql`drop function if exists claim_queued_executions(text, int, int)`.execute(db);
  await createSecurityDefinerFunction(db, "execution-worker", {
    name: "claim_queued_executions",
    args: "p_owner text, p_limit int, p_lease_ms int, p_concurrency jsonb",
    returns: "table (id uuid, workspace_id uuid)",
    volatility: "volatile",
    body: `select pg_advisory_xact_lock(hashtext('execution.claim_queued_executions'));
           with waiting as (
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
           ), fair as (
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

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function if exists claim_queued_executions(text, int, int, jsonb)`.execute(db);
  await sql`drop index if exists executions_agent`.execute(db);
  await sql`drop index if exists executions_running`.execute(db);
  await sql`alter table executions drop column if exists cancel_requested_at`.execute(db);
  await sql`drop table if exists workspace_usage`.execute(db);
  await sql`drop table if exists workspace_tiers`.execute(db);
}
