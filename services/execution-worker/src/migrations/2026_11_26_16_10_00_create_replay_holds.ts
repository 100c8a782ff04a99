import { sql, type Kysely } from "kysely";
import { createReplayHoldTables, createSecurityDefinerFunction, dropReplayHoldTables } from "@galaxy/db";

/**
 * Operator work on the worker (docs/replay.md): live agent events of a workspace whose projection a
 * replay rebuilds wait in the replay holds (docs/replay.md); a bulk re-run names an agent, and
 * finds its workspace through `agent_workspace`.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await createReplayHoldTables(db);
  await createSecurityDefinerFunction(db, "execution-worker", {
    name: "agent_workspace",
    args: "p_agent_id uuid",
    returns: "uuid",
    body: "select workspace_id from agents where agent_id = p_agent_id",
    reason:
      "An operator's bulk re-run of failed executions (galaxy executions rerun, an operator claim of the system workspace) names an agent, not its workspace; this answers that workspace's id alone, and the re-run then works inside it.",
  });
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function if exists agent_workspace(uuid)`.execute(db);
  await dropReplayHoldTables(db);
}
