import { sql, type Kysely } from "kysely";

/**
 * Trace context at rest (docs/operations.md, "Tracing"): an execution queued outside any trace
 * (no tracing configured and a caller that sent no `traceparent`) has none, since Galaxy no
 * longer makes one up; a completion callback keeps the span that scheduled it, so its
 * delivery, made later, continues the execution's trace.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table executions alter column traceparent drop not null`.execute(db);
  await sql`alter table callback_deliveries add column traceparent text`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table callback_deliveries drop column traceparent`.execute(db);
  await sql`update executions set traceparent = '' where traceparent is null`.execute(db);
  await sql`alter table executions alter column traceparent set not null`.execute(db);
}
