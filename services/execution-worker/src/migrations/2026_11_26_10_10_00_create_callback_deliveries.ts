import { sql, type Kysely } from "kysely";
import { createSecurityDefinerFunction, enableWorkspaceRls } from "@galaxy/db";

/**
 * Completion callbacks (the worker's README, "Completion callbacks"): one row per attempt to
 * POST an execution's terminal event to its agent version's `notifyUrl`. The last attempt of a delivery that will be tried again
 * is `pending` with `next_attempt_at`; the others are `delivered` or `failed`.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table callback_deliveries (
      id uuid primary key,
      workspace_id uuid not null,
      execution_id uuid not null,
      -- The terminal event: its id is the webhook-id of every attempt, and the receiver's dedup key.
      event_id uuid not null,
      event_type text not null,
      agent_id uuid not null,
      agent_version int not null,
      attempt int not null check (attempt >= 1),
      url text not null,
      status text not null check (status in ('pending', 'delivered', 'failed')),
      response_status int,
      error text,
      -- The event JSON, sent as is on every attempt.
      payload jsonb not null,
      -- When the attempt was made; for a pending one, when it was scheduled.
      at timestamptz not null default now(),
      next_attempt_at timestamptz,
      -- No attempt is scheduled after this (24 h after the first was due, by default).
      give_up_at timestamptz not null,
      unique (event_id, attempt),
      check ((status = 'pending') = (next_attempt_at is not null))
    )`.execute(db);
  await sql`create index callback_deliveries_by_execution on callback_deliveries (workspace_id, execution_id, attempt)`.execute(db);
  await sql`create index callback_deliveries_due on callback_deliveries (next_attempt_at) where status = 'pending'`.execute(db);
  await enableWorkspaceRls(db, "callback_deliveries");

  // Ids and workspaces only, never a row: each is then read and updated inside its own
  // workspace's transaction. Claiming pushes next_attempt_at out by the lease, so two
  // instances never make the same attempt; one that dies mid-attempt leaves it due again.
  await createSecurityDefinerFunction(db, "execution-worker", {
    name: "claim_due_callback_deliveries",
    args: "p_limit int, p_lease_ms int",
    returns: "table (id uuid, workspace_id uuid)",
    volatility: "volatile",
    body: `update callback_deliveries d
              set next_attempt_at = now() + make_interval(secs => p_lease_ms / 1000.0)
            where d.id in (select c.id from callback_deliveries c
                            where c.status = 'pending' and c.next_attempt_at <= now()
                            order by c.next_attempt_at
                            limit p_limit
                            for update skip locked)
           returning d.id, d.workspace_id`,
    reason:
      "The completion-callback timer finds the attempts that are due in every workspace and leases them, answering their ids and workspaces only; each attempt is then read, made and recorded inside its own workspace's transaction.",
  });
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function if exists claim_due_callback_deliveries(int, int)`.execute(db);
  await sql`drop table if exists callback_deliveries`.execute(db);
}
