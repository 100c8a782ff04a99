import { sql, type Kysely } from "kysely";
import { createSecurityDefinerFunction } from "@galaxy/db";

/**
 * Trace context at rest (docs/operations.md, "Tracing"): an execution queued outside any trace
 * (no tracing configured and a caller that sent no `traceparent`) has none, since Galaxy no
 * longer makes one up; a completion callback keeps the span that scheduled it, so its
 * delivery, made later, continues the execution's trace.
 *
 * The queue depth operators watch (`galaxy_executions_queue_depth`, docs/operations.md, "Metrics"):
 * queued executions of every workspace, counted by tier, on the partial index of queued rows.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table executions alter column traceparent drop not null`.execute(db);
  await sql`alter table callback_deliveries add column traceparent text`.execute(db);
  await createSecurityDefinerFunction(db, "execution-worker", {
    name: "queued_executions_by_tier",
    args: "",
    returns: "table (tier text, queued bigint)",
    body: `select coalesce(t.tier, 'free') as tier, count(*) as queued
             from executions e left join workspace_tiers t on t.workspace_id = e.workspace_id
            where e.status = 'queued'
            group by 1`,
    reason:
      "The galaxy_executions_queue_depth gauge on the worker's ops port: how many executions wait in the queue across every workspace, by tier, for operators; counts only, never an id or a workspace.",
  });
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function if exists queued_executions_by_tier()`.execute(db);
  await sql`alter table callback_deliveries drop column traceparent`.execute(db);
  await sql`update executions set traceparent = '' where traceparent is null`.execute(db);
  await sql`alter table executions alter column traceparent set not null`.execute(db);
}
