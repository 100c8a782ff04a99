import { sql, type Kysely } from "kysely";
import { createOutbox, createSecurityDefinerFunction, enableWorkspaceRls } from "@galaxy/db";

export async function up(db: Kysely<unknown>): Promise<void> {
  // The worker's own copy of what it needs from agent-registry, fed by `evt.*.agent.>`:
  // starting an execution must not wait for another service. `updated_at` is the time of the
  // fact last applied (not of the write), so an older event replayed later changes nothing.
  await sql`create table agents (
      workspace_id uuid not null,
      agent_id uuid primary key,
      status text not null check (status in ('draft', 'active', 'paused')),
      current_version int not null check (current_version >= 1),
      deleted boolean not null default false,
      updated_at timestamptz not null
    )`.execute(db);
  await sql`create index agents_workspace on agents (workspace_id)`.execute(db);
  await enableWorkspaceRls(db, "agents");

  // Versions are immutable, so a version once known is never rewritten.
  await sql`create table agent_versions (
      workspace_id uuid not null,
      agent_id uuid not null,
      version int not null check (version >= 1),
      config jsonb not null,
      created_at timestamptz not null default now(),
      primary key (agent_id, version)
    )`.execute(db);
  await enableWorkspaceRls(db, "agent_versions");

  // The queue is this table: `queued` rows wait for a scheduler, `running` rows are leased by
  // one worker instance until `lease_expires_at`, after which any instance may take them over.
  await sql`create table executions (
      id uuid primary key,
      workspace_id uuid not null,
      agent_id uuid not null,
      agent_version int not null,
      status text not null check (status in ('queued', 'running', 'completed', 'failed', 'cancelled', 'timed_out')),
      trigger jsonb not null,
      input jsonb,
      output jsonb,
      error jsonb,
      input_tokens int not null default 0,
      output_tokens int not null default 0,
      total_tokens int not null default 0,
      cost_usd numeric(18, 8) not null default 0,
      duration_ms int,
      created_by text not null,
      correlation_id text not null,
      traceparent text not null,
      queued_event_id uuid,
      attempt int not null default 0,
      lease_owner text,
      lease_expires_at timestamptz,
      created_at timestamptz not null default now(),
      started_at timestamptz,
      completed_at timestamptz
    )`.execute(db);
  await sql`create index executions_queued on executions (status, created_at) where status = 'queued'`.execute(db);
  await sql`create index executions_leased on executions (lease_expires_at) where status = 'running'`.execute(db);
  await sql`create index executions_workspace on executions (workspace_id, created_at desc)`.execute(db);
  await enableWorkspaceRls(db, "executions");

  await sql`create table execution_steps (
      id uuid primary key,
      workspace_id uuid not null,
      execution_id uuid not null references executions (id) on delete cascade,
      name text not null,
      status text not null check (status in ('running', 'completed', 'failed', 'abandoned')),
      started_at timestamptz not null,
      completed_at timestamptz,
      duration_ms int,
      detail jsonb not null default '{}'
    )`.execute(db);
  await sql`create index execution_steps_execution on execution_steps (execution_id, started_at)`.execute(db);
  await enableWorkspaceRls(db, "execution_steps");

  await createOutbox(db, "execution-worker");

  // Two candidate sets, each locked with SKIP LOCKED so concurrent schedulers never pick the
  // same row: queued executions, oldest first, and running ones whose worker stopped renewing
  // its lease (a crashed instance). Fairness across workspaces changes `candidates` alone:
  // choose the oldest queued row of each workspace (`distinct on (workspace_id)`, which cannot
  // lock), then lock those rows by id with SKIP LOCKED; the rest of the function stays.
  await createSecurityDefinerFunction(db, "execution-worker", {
    name: "claim_queued_executions",
    args: "p_owner text, p_limit int, p_lease_ms int",
    returns: "table (id uuid, workspace_id uuid)",
    volatility: "volatile",
    body: `with candidates as (
             select id from executions
             where status = 'queued'
             order by created_at, id
             limit p_limit
             for update skip locked
           ), abandoned as (
             select id from executions
             where status = 'running' and lease_expires_at < now()
             order by lease_expires_at, id
             limit p_limit
             for update skip locked
           ), picked as (
             select id from (select id, 0 as prio from abandoned union all select id, 1 from candidates) c
             order by prio limit p_limit
           )
           update executions e
              set status = 'running', lease_owner = p_owner, attempt = e.attempt + 1,
                  lease_expires_at = now() + make_interval(secs => p_lease_ms / 1000.0)
             from picked
            where e.id = picked.id
           returning e.id, e.workspace_id`,
    reason: "The scheduler picks queued executions (and ones whose worker's lease expired) of every workspace before it knows which workspace each belongs to.",
  });
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function if exists claim_queued_executions(text, int, int)`.execute(db);
  await sql`drop function if exists outbox_pending(int, int)`.execute(db);
  await sql`drop function if exists outbox_mark_published(uuid[])`.execute(db);
  for (const table of ["outbox", "execution_steps", "executions", "agent_versions", "agents"]) {
    await sql`drop table if exists ${sql.table(table)} cascade`.execute(db);
  }
}
