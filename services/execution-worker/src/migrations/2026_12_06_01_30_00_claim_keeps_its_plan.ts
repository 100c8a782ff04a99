import type { Kysely } from "kysely";
import { createSecurityDefinerFunction } from "@galaxy/db";
import { CLAIM_LOCK, CLAIM_REASON, claimQuery, up as claimInSql } from "./2026_12_05_22_20_00_claim_counts_running";

/**
 * The claim keeps its plan (docs/decisions/0025). As a SQL function its statement was planned at
 * every call, about 1.6 ms of Postgres's CPU for a claim that then ran in under 1 ms, with the
 * claims' lock held meanwhile; the scheduler claims about once per execution. In PL/pgSQL the
 * plan is kept for the session. The statement, the lock and what it answers are unchanged.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await createClaimFunction(db, claimQuery("l.running + "));
}

/** The claim as a PL/pgSQL function: `statement` (a `claimQuery`) under the claims' lock; later migrations change only the statement. */
export async function createClaimFunction(db: Kysely<unknown>, statement: string): Promise<void> {
  await createSecurityDefinerFunction(db, "execution-worker", {
    name: "claim_queued_executions",
    args: "p_owner text, p_limit int, p_lease_ms int, p_concurrency jsonb",
    returns: "table (id uuid, workspace_id uuid)",
    volatility: "volatile",
    language: "plpgsql",
    // The names of the answer's columns (id, workspace_id) are variables in PL/pgSQL: inside the
    // statement, those names mean the tables' columns, as they did in SQL.
    body: `#variable_conflict use_column
           begin
             perform ${CLAIM_LOCK};
             return query ${statement};
           end`,
    reason: CLAIM_REASON,
  });
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await claimInSql(db);
}
