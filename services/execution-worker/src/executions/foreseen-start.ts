import { sql, type CompiledQuery, type Kysely } from "@galaxy/db";
import type { ExecutionDb } from "../db";
import { monthOf, TIERS } from "../quota/tiers";
import { startsArguments, type PlannedStart } from "./start-rows";
import { factsOf, type FactsRow, type WorkspaceFacts } from "./workspace-facts";

/** A row of `write_foreseen_start`: the facts it read, and the ids it wrote (none when the plan no longer held). */
interface ForeseenRow extends FactsRow {
  written: string[];
}

/** What became of a foreseen start: the workspace's facts as the statement read them, and whether the start was written. */
export interface ForeseenAnswer {
  facts: WorkspaceFacts;
  written: boolean;
}

/**
 * The statement that writes `start`, planned from `facts` read at an earlier delivery (taken at
 * once, its first step open), only if the workspace's facts still allow exactly that plan
 * (`write_foreseen_start`, docs/decisions/0033): the same tier, its token budget not spent,
 * nothing queued, room under its concurrency, the id new, the agent active at the pinned
 * version. It is the whole transaction of a lone delivery, sent with its opening and its commit
 * in one round trip, where reading the facts first takes two.
 */
export function foreseenStartWrite(db: Kysely<ExecutionDb>, start: PlannedStart, facts: WorkspaceFacts, lease: { owner: string; leaseMs: number }, now: Date): CompiledQuery<ForeseenRow> {
  const { rows, events, steps, createdAt } = startsArguments([start]);
  const limits = TIERS[facts.tier];
  return sql<ForeseenRow>`
    select tier, tokens, queued, running, existing, agents, written::text[] as written
      from write_foreseen_start(${start.order.workspaceId}, ${monthOf(now)}::date, ${lease.owner}, ${lease.leaseMs}, ${createdAt}::timestamptz,
                                 ${rows}::jsonb, ${events}::jsonb, ${steps}::jsonb,
                                 ${start.order.agentId}, ${start.version}, ${facts.storedTier}, ${limits.monthlyTokens}, ${limits.concurrency})`.compile(db);
}

/** What the rows of `foreseenStartWrite` say. */
export function foreseenAnswer(rows: readonly ForeseenRow[], executionId: string): ForeseenAnswer {
  const row = rows[0];
  if (!row) throw new Error("write_foreseen_start returned no row");
  return { facts: factsOf(row), written: row.written.includes(executionId.toLowerCase()) };
}
