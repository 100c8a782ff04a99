import { describe, expect } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { ZERO_USAGE } from "@galaxy/contracts";
import { inWorkspace, sql } from "@galaxy/db";
import { workerTest } from "../../test/support/fixtures";
import { claimQueuedExecutions, type ClaimedExecution, type Outcome } from "./executions.repository";
import { writeRunAlone } from "./run-store";
import { StepLog } from "./step-log";

/**
 * A run's writes (`write_run`, docs/decisions/0026) apply only while their instance holds the
 * lease, and only in the transaction's workspace: anything else writes nothing at all. The
 * scheduler claims nothing here (concurrency 0): each test claims its execution itself.
 */
const ws = uuidv7();
const owner = "run-store-test";

const test = workerTest({ concurrency: 0 })
  .extend("claimed", async ({ h }): Promise<ClaimedExecution> => {
    const agent = await h.activeAgent(ws);
    const queued = await h.startExecution(ws, agent.id);
    const [claimed] = await claimQueuedExecutions(h.db, owner, 1, 30_000);
    expect(claimed).toEqual({ id: queued.id, workspaceId: ws });
    return { id: queued.id, workspaceId: ws };
  })
  .extend("written", async ({ h }) => async (executionId: string) =>
    inWorkspace(h.db, ws, async (tx) => {
      const { rows } = await sql<{ status: string; steps: number; events: number; outboxed: number; tokens: number | null }>`
        select e.status,
               (select count(*) from execution_steps s where s.execution_id = e.id)::int as steps,
               (select count(*) from execution_events v where v.execution_id = e.id)::int as events,
               (select count(*) from outbox o where o.payload -> 'data' ->> 'executionId' = e.id::text)::int as outboxed,
               (select tokens from workspace_usage u where u.workspace_id = e.workspace_id)::int as tokens
          from executions e where e.id = ${executionId}`.execute(tx);
      return rows[0];
    }),
  );

/** The end of a run that used 12 tokens, with its one step closed. */
function ending(claimed: ClaimedExecution): { outcome: Outcome; steps: StepLog } {
  const at = new Date();
  const steps = new StepLog(ws, claimed.id, () => ({ claim: "", correlationId: claimed.id, causationId: claimed.id }), StepLog.open("model_call", {}, at));
  return { outcome: { status: "completed", output: { text: "done" }, error: null, usage: { ...ZERO_USAGE, inputTokens: 5, outputTokens: 7, totalTokens: 12 }, durationMs: 3, completedAt: at }, steps };
}

describe("a run's write", () => {
  test("by the lease's owner: the row ends, its steps and events are written and numbered after the counter, and the month's usage counts it", async ({ h, claimed, written }) => {
    const before = await written(claimed.id);
    const { outcome, steps } = ending(claimed);
    const { steps: records, events } = steps.finish("completed", {}, outcome.completedAt);
    const write = { executionId: claimed.id, owner, change: { kind: "end", outcome } as const, events, steps: records, usage: { month: "2026-12-01", tokens: 12 } };
    const numbered = await writeRunAlone(h.db, ws, write);
    expect(numbered?.map((event) => (event.payload.data as { seq: number }).seq)).toEqual([(before?.events ?? 0) + 1]);
    expect(await written(claimed.id)).toEqual({ status: "completed", steps: 1, events: (before?.events ?? 0) + 1, outboxed: (before?.outboxed ?? 0) + 1, tokens: (before?.tokens ?? 0) + 12 });
  });

  test("by an instance that does not hold the lease: null, and nothing is written", async ({ h, claimed, written }) => {
    const before = await written(claimed.id);
    const { outcome, steps } = ending(claimed);
    const { steps: records, events } = steps.finish("completed", {}, outcome.completedAt);
    const write = { executionId: claimed.id, owner: "another-instance", change: { kind: "end", outcome } as const, events, steps: records, usage: { month: "2026-12-01", tokens: 12 } };
    expect(await writeRunAlone(h.db, ws, write)).toBeNull();
    expect(await written(claimed.id)).toEqual(before);
  });

  test("in another workspace's transaction: row-level security hides the execution, so null and nothing written", async ({ h, claimed, written }) => {
    const before = await written(claimed.id);
    const { outcome, steps } = ending(claimed);
    const { steps: records, events } = steps.finish("completed", {}, outcome.completedAt);
    const write = { executionId: claimed.id, owner, change: { kind: "end", outcome } as const, events, steps: records, usage: { month: "2026-12-01", tokens: 12 } };
    expect(await writeRunAlone(h.db, uuidv7(), write)).toBeNull();
    expect(await written(claimed.id)).toEqual(before);
  });
});
