import { inWorkspace, type Kysely } from "@galaxy/db";
import { findAgentVersion } from "../agents/agents.repository";
import type { ExecutionDb } from "../db";

/** Versions remembered at most; past it the oldest is forgotten (and read again if it comes back). */
const MAX_KNOWN = 10_000;

/**
 * The `notifyUrl` of each agent version, read once: a version never changes, so most terminal
 * events (those of agents without a callback) need no transaction at all.
 */
export class NotifyUrls {
  private readonly known = new Map<string, string | null>();

  constructor(private readonly db: Kysely<ExecutionDb>) {}

  /** The version's `notifyUrl` (null: none); undefined when the projection does not hold the version yet. */
  async of(workspaceId: string, agentId: string, version: number): Promise<string | null | undefined> {
    const key = `${workspaceId}:${agentId}:${version}`;
    if (this.known.has(key)) return this.known.get(key);
    const pinned = await inWorkspace(this.db, workspaceId, (tx) => findAgentVersion(tx, agentId, version));
    if (!pinned) return undefined;
    if (this.known.size >= MAX_KNOWN) {
      const oldest = this.known.keys().next();
      if (!oldest.done) this.known.delete(oldest.value);
    }
    this.known.set(key, pinned.notifyUrl);
    return pinned.notifyUrl;
  }
}
