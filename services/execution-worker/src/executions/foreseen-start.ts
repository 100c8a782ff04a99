import { sql, type CompiledQuery, type Kysely } from "@galaxy/db";
import type { PinnableAgent } from "../agents/agents.repository";
import type { ExecutionDb } from "../db";
import { monthOf, TIERS, type Tier } from "../quota/tiers";
import { startsArguments, type PlannedStart } from "./start-rows";
import { factsOf, type FactsRow, type WorkspaceFacts } from "./workspace-facts";

/**
 * What a lone delivery's start is planned from (docs/decisions/0033): the workspace's tier and
 * month's tokens and one of its agents, as a batch on this instance last read them.
 */
export interface Foresight {
  tier: Tier;
  /** The tier as stored, which the statement checks unchanged. */
  storedTier: string | null;
  tokensUsed: number;
  agent: PinnableAgent;
}

/** At most this many bytes of agent configs kept (their JSON), the least recently read forgotten first. */
const MAX_BYTES = 4 * 1024 * 1024;
/** An agent whose config is larger than this is not kept: its workspace's lone deliveries read first, as every batch does. */
const MAX_ENTRY_BYTES = 64 * 1024;

/** The foresights of the workspaces' agents a batch here read, bounded by the bytes of their configs. */
export class Foresights {
  private readonly entries = new Map<string, { foresight: Foresight; bytes: number }>();
  private bytes = 0;

  constructor(private readonly maxBytes = MAX_BYTES) {}

  /** Keeps what a batch read of a workspace, for each agent it names that could be started. */
  learn(workspaceId: string, facts: WorkspaceFacts): void {
    for (const [agentId, agent] of facts.agents) {
      const key = `${workspaceId}/${agentId}`;
      this.forget(key);
      if (!agent.config || agent.deleted || agent.status !== "active") continue;
      const bytes = JSON.stringify(agent.config).length;
      if (bytes > MAX_ENTRY_BYTES) continue;
      this.entries.set(key, { foresight: { tier: facts.tier, storedTier: facts.storedTier, tokensUsed: facts.tokensUsed, agent }, bytes });
      this.bytes += bytes;
    }
    for (const [key] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.forget(key);
    }
  }

  get(workspaceId: string, agentId: string): Foresight | undefined {
    return this.entries.get(`${workspaceId}/${agentId}`)?.foresight;
  }

  /** The configs' bytes kept. */
  get size(): number {
    return this.bytes;
  }

  private forget(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.bytes -= entry.bytes;
  }
}

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
 * The statement that writes `start`, planned from `foresight` and taken at once (its first step
 * open), only if the workspace's facts still allow exactly that plan (`write_foreseen_start`,
 * docs/decisions/0033): the same tier, its token budget not spent, nothing queued, room under
 * its concurrency, the id new, the agent active at the pinned version with its config. It is
 * the whole transaction of a lone delivery, sent with its opening and its commit in one round
 * trip, where reading the facts first takes two.
 */
export function foreseenStartWrite(db: Kysely<ExecutionDb>, start: PlannedStart, foresight: Foresight, lease: { owner: string; leaseMs: number }, now: Date): CompiledQuery<ForeseenRow> {
  const { rows, events, steps, createdAt } = startsArguments([start]);
  const limits = TIERS[foresight.tier];
  return sql<ForeseenRow>`
    select tier, tokens, queued, running, existing, agents, written::text[] as written
      from write_foreseen_start(${start.order.workspaceId}, ${monthOf(now)}::date, ${lease.owner}, ${lease.leaseMs}, ${createdAt}::timestamptz,
                                 ${rows}::jsonb, ${events}::jsonb, ${steps}::jsonb,
                                 ${start.order.agentId}, ${start.version}, ${foresight.storedTier}, ${limits.monthlyTokens}, ${limits.concurrency})`.compile(db);
}

/** What the rows of `foreseenStartWrite` say. */
export function foreseenAnswer(rows: readonly ForeseenRow[], executionId: string): ForeseenAnswer {
  const row = rows[0];
  if (!row) throw new Error("write_foreseen_start returned no row");
  return { facts: factsOf(row), written: row.written.includes(executionId.toLowerCase()) };
}
