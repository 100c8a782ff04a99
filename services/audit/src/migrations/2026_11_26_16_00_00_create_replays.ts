import { sql, type Kysely } from "kysely";
import { createOutbox, createReplayHoldTables, dropReplayHoldTables, enableWorkspaceRls } from "@galaxy/db";

/**
 * Operator replays and dead-letter redrives (docs/replay.md), recorded by audit. Both are
 * operator records of the system workspace (`workspace_id` is always its id), so they sit
 * under the same row-level security as every tenant table. The outbox carries
 * `replay.started`, `replay.completed` and `dead_letter.redriven`; the replay holds keep live
 * events of a workspace whose audit log is being rebuilt.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table replay_runs (
      id uuid primary key,
      workspace_id uuid not null,
      target text not null,
      subject text not null,
      filter_workspace_id uuid,
      since timestamptz,
      until timestamptz,
      from_seq bigint,
      to_seq bigint,
      end_seq bigint,
      dry_run boolean not null,
      reset boolean not null,
      rate_per_sec int,
      status text not null check (status in ('running', 'completed', 'failed', 'cancelled')),
      cancel_requested boolean not null default false,
      matched bigint not null default 0,
      applied bigint not null default 0,
      skipped bigint not null default 0,
      failed bigint not null default 0,
      last_seq bigint,
      remaining bigint,
      error text,
      requested_by text not null,
      created_at timestamptz not null default now(),
      started_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      finished_at timestamptz
    )`.execute(db);
  await sql`create index replay_runs_created on replay_runs (workspace_id, created_at desc)`.execute(db);
  await enableWorkspaceRls(db, "replay_runs");

  await sql`create table dead_letter_redrives (
      workspace_id uuid not null,
      dead_letter_seq bigint not null,
      consumer text not null,
      subject text not null,
      outcome text not null check (outcome in ('applied', 'failed')),
      error text,
      redriven_by text not null,
      redriven_at timestamptz not null default now(),
      primary key (workspace_id, dead_letter_seq)
    )`.execute(db);
  await enableWorkspaceRls(db, "dead_letter_redrives");

  // Audit's outbox (its own events: replays, redrives, retention), unless an earlier migration made it.
  const outbox = await sql<{ found: string | null }>`select to_regclass('outbox')::text as found`.execute(db);
  if (!outbox.rows[0]?.found) await createOutbox(db, "audit");
  await createReplayHoldTables(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await dropReplayHoldTables(db);
  await sql`drop function if exists audit.outbox_mark_published(uuid[])`.execute(db);
  await sql`drop function if exists audit.outbox_pending(int, int)`.execute(db);
  for (const table of ["outbox", "dead_letter_redrives", "replay_runs"]) await sql`drop table if exists ${sql.table(table)} cascade`.execute(db);
}
