import { AgentConfig, type AgentStatus } from "@galaxy/contracts";
import { sql, type Transaction } from "@galaxy/db";
import type { PinnableAgent } from "../agents/agents.repository";
import type { ExecutionDb } from "../db";
import { monthOf, Tier } from "../quota/tiers";

/** What an intake reads of a workspace before it starts executions there. */
export interface WorkspaceFacts {
  tier: Tier;
  /** The tier as stored (null: none stored), which a foreseen start checks unchanged (foreseen-start.ts). */
  storedTier: string | null;
  tokensUsed: number;
  queued: number;
  running: number;
  /** Those of the asked execution ids that exist already. */
  existing: Set<string>;
  /** Those of the asked agents the projection knows, with their current version's config. */
  agents: Map<string, PinnableAgent>;
}

interface AgentRow {
  agent_id: string;
  status: AgentStatus;
  deleted: boolean;
  current_version: number;
  config: unknown;
}

/** A row of `intake_facts` (or of `write_foreseen_start`, which answers the same columns). */
export interface FactsRow {
  tier: string | null;
  tokens: number | string | null;
  queued: number;
  running: number;
  existing: string[];
  agents: AgentRow[];
}

/**
 * The workspace's tier, the month's tokens, its queued and running counts, which of
 * `executionIds` exist and what the projection knows of `agentIds`, in one call of
 * `intake_facts` (PL/pgSQL, which keeps its plan: docs/decisions/0026), inside the caller's
 * transaction, whose workspace setting is `workspaceId`.
 */
export async function readWorkspaceFacts(tx: Transaction<ExecutionDb>, workspaceId: string, executionIds: readonly string[], agentIds: readonly string[], now: Date): Promise<WorkspaceFacts> {
  const result = await sql<FactsRow>`
    select * from intake_facts(${workspaceId}, ${monthOf(now)}::date, ${[...executionIds]}::uuid[], ${[...new Set(agentIds)]}::uuid[])`.execute(tx);
  const row = result.rows[0];
  if (!row) throw new Error("intake_facts returned no row");
  return factsOf(row);
}

/** The facts a row of `intake_facts` states. */
export function factsOf(row: FactsRow): WorkspaceFacts {
  const tier = Tier.safeParse(row.tier);
  const agents = new Map<string, PinnableAgent>();
  for (const agent of row.agents) {
    const config = AgentConfig.safeParse(agent.config);
    agents.set(agent.agent_id, { status: agent.status, deleted: agent.deleted, version: agent.current_version, config: config.success ? config.data : null });
  }
  return { tier: tier.success ? tier.data : "free", storedTier: row.tier, tokensUsed: Number(row.tokens ?? 0), queued: row.queued, running: row.running, existing: new Set(row.existing), agents };
}
