import { sql, type Kysely } from "kysely";
import { enableWorkspaceRls } from "@galaxy/db";

export async function up(db: Kysely<unknown>): Promise<void> {
  // Each execution numbers its own events 1, 2, 3…: the counter lives on the execution row, so
  // taking the next number locks that row and two writers can never get the same one.
  await sql`alter table executions add column last_event_seq int not null default 0`.execute(db);

  // The events of each execution as they were published (the outbox row's payload), kept so the
  // SSE stream can replay them in order and resume after `Last-Event-ID`.
  await sql`create table execution_events (
      workspace_id uuid not null,
      execution_id uuid not null references executions (id) on delete cascade,
      seq int not null check (seq >= 1),
      event_id uuid not null unique,
      type text not null,
      payload jsonb not null,
      occurred_at timestamptz not null,
      primary key (execution_id, seq)
    )`.execute(db);
  await enableWorkspaceRls(db, "execution_events");
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists execution_events`.execute(db);
  await sql`alter table executions drop column if exists last_event_seq`.execute(db);
}
