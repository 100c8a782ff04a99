import { describe, expect } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { GalaxyError, type Agent } from "@galaxy/contracts";
import { inWorkspace, sql, type Kysely, type Transaction } from "@galaxy/db";
import { rememberAgent } from "../agents/agents.repository";
import type { ExecutionDb } from "../db";
import { setTier } from "../quota/quota.repository";
import { monthOf, TIERS } from "../quota/tiers";
import { workerTest, startHarnessFirst } from "../../test/support/fixtures";
import { eventually } from "../../test/support/harness";
import { holdClaimLock, statementWaitingForALock } from "../../test/support/claim-lock";
import { webhookOrder } from "../../test/support/webhook-orders";
import { BatchIntake, type BatchOrder } from "./batch-intake";
import { foreseenAnswer, foreseenStartWrite, type Foresight } from "./foreseen-start";
import { planStart } from "./start-plan";
import { readWorkspaceFacts } from "./workspace-facts";
import { Intake } from "./intake";
import type { ClaimedExecution } from "./executions.repository";

/**
 * A lone delivery to a workspace the batch intake read before (docs/decisions/0033): planned
 * from those facts and written in one round trip by `write_foreseen_start`, which writes it only
 * if the facts still allow that plan; otherwise nothing is written and the delivery is read and
 * planned as every batch is.
 */

const test = workerTest()
  /** A batch intake with free places on this instance; what it takes at once is recorded, not run. */
  .extend("taking", async ({ h, relay }) => {
    const launched: ClaimedExecution[] = [];
    const reserve = () => ({ launch: (execution: ClaimedExecution) => void launched.push(execution), release: () => undefined });
    const deps = { db: h.db, bus: h.bus, relay, owner: "foreseen-test", leaseMs: 30_000, reserve, onQueued: () => undefined };
    return { intake: new BatchIntake({ ...deps, intake: new Intake(deps) }), launched };
  })
  .extend("orderOf", { scope: "file" }, async ({ h }) => (agent: Agent): Promise<BatchOrder> => webhookOrder(h.bus, agent, { message: "hello" }))
  /** Runs `fn` while another transaction holds the claim lock. */
  .extend("underClaimLock", { scope: "file" }, async ({ h }) => async <T>(fn: () => Promise<T>): Promise<T> => {
    const lock = await holdClaimLock(h.db);
    try {
      return await fn();
    } finally {
      await lock.release();
    }
  });
startHarnessFirst(test);

/** Leaves nothing running or queued in the workspace for the worker's scheduler. */
async function settle(db: Kysely<ExecutionDb>, workspaceId: string): Promise<void> {
  await inWorkspace(db, workspaceId, (tx) => sql`update executions set status = 'cancelled', completed_at = now() where status in ('queued', 'running')`.execute(tx));
}

describe("a lone delivery to a workspace read before", () => {
  test("is written in one round trip, taken at once, with the budget the statement read", async ({ h, taking, orderOf, underClaimLock }) => {
    const ws = uuidv7();
    const agent = await h.activeAgent(ws);
    // The first delivery reads the workspace, then writes: two round trips.
    expect(await taking.intake.startAll([await orderOf(agent)])).toEqual([null]);
    // Tokens spent since, which the plan (made from the first read) does not know of.
    await inWorkspace(h.db, ws, (tx) => sql`insert into workspace_usage (workspace_id, month, tokens, executions) values (${ws}, ${monthOf(new Date())}::date, 1234, 1)`.execute(tx));
    const order = await orderOf(agent);
    const statement = await underClaimLock(async () => {
      const started = taking.intake.startAll([order]);
      const sent = await eventually(() => statementWaitingForALock(h.db, ws), 10_000, "the intake waiting for the claim lock");
      return { sent, started };
    });
    // The message waiting for the lock opens the transaction and writes the start: no read went
    // before it (pg_stat_activity shows a message's first kilobyte; the commit travels with it,
    // as inWorkspaceAtOnce sends it: libs/db/src/workspace-round-trips.int.test.ts).
    expect(statement.sent).toMatch(/^begin; set local app\.workspace_id = '[0-9a-f-]{36}'; select pg_advisory_xact_lock\(.*\);\s+select .* from write_foreseen_start\(/s);
    expect(await statement.started).toEqual([null]);
    expect(taking.intake.foreseen).toEqual({ written: 1, refused: 0 });
    expect((await h.row(ws, order.executionId)).status).toBe("running");
    expect(await h.stepStatuses(ws, order.executionId)).toEqual(["running"]);
    const launched = taking.launched.find((execution) => execution.id === order.executionId);
    expect(launched?.begun?.remainingTokens).toBe(TIERS.free.monthlyTokens - 1234);
    const events = await inWorkspace(h.db, ws, (tx) =>
      sql<{ type: string; seq: number }>`select type, seq from execution_events where execution_id = ${order.executionId} order by seq`.execute(tx));
    expect(events.rows).toEqual([{ type: "execution.queued", seq: 1 }, { type: "execution.started", seq: 2 }]);
    // The same delivery again writes nothing and runs nothing.
    expect(await taking.intake.startAll([order])).toEqual([null]);
    expect(taking.intake.foreseen).toEqual({ written: 1, refused: 1 });
    expect(taking.launched.filter((execution) => execution.id === order.executionId)).toHaveLength(1);
    await settle(h.db, ws);
  });

  test("pins the agent's current version when a new one came after the read", async ({ h, taking, orderOf }) => {
    const ws = uuidv7();
    const agent = await h.activeAgent(ws);
    expect(await taking.intake.startAll([await orderOf(agent)])).toEqual([null]);
    const later = new Date(Date.parse(agent.updatedAt) + 1_000).toISOString();
    await inWorkspace(h.db, ws, (tx) => rememberAgent(tx, { ...agent, version: 2, systemPrompt: "Version two.", updatedAt: later }));
    const order = await orderOf(agent);
    expect(await taking.intake.startAll([order])).toEqual([null]);
    const row = await h.row(ws, order.executionId);
    expect([row.status, row.agent_version]).toEqual(["running", 2]);
    // Planned at version 1, refused by the statement, then read and planned again.
    expect(taking.intake.foreseen).toEqual({ written: 0, refused: 1 });
    expect(taking.launched.find((execution) => execution.id === order.executionId)?.begun?.config?.systemPrompt).toBe("Version two.");
    await settle(h.db, ws);
  });

  test("is queued when the workspace's concurrency filled up after the read", async ({ h, taking, orderOf }) => {
    const ws = uuidv7();
    const agent = await h.activeAgent(ws);
    await inWorkspace(h.db, ws, (tx) => setTier(tx, ws, "free"));
    const orders = [await orderOf(agent), await orderOf(agent), await orderOf(agent)];
    // The first is read and taken; the second, planned from that read (one running), fills the
    // free tier's two places; the third, planned from the second's read, finds them full.
    for (const order of orders) expect(await taking.intake.startAll([order])).toEqual([null]);
    const statuses = await Promise.all(orders.map(async (order) => (await h.row(ws, order.executionId)).status));
    expect(statuses).toEqual(["running", "running", "queued"]);
    expect(taking.intake.foreseen).toEqual({ written: 1, refused: 1 });
    expect(TIERS.free.concurrency).toBe(2);
    expect(taking.launched.map((execution) => execution.id).filter((id) => orders.some((order) => order.executionId === id))).toEqual([orders[0]?.executionId, orders[1]?.executionId]);
    await settle(h.db, ws);
  });

  test("is refused when the month's budget was spent after the read", async ({ h, taking, orderOf }) => {
    const ws = uuidv7();
    const agent = await h.activeAgent(ws);
    expect(await taking.intake.startAll([await orderOf(agent)])).toEqual([null]);
    await inWorkspace(h.db, ws, (tx) => sql`insert into workspace_usage (workspace_id, month, tokens, executions) values (${ws}, ${monthOf(new Date())}::date, ${TIERS.free.monthlyTokens}, 1)`.execute(tx));
    const order = await orderOf(agent);
    const [outcome] = await taking.intake.startAll([order]);
    expect(outcome instanceof GalaxyError ? `${outcome.code} ${outcome.details?.quota}` : String(outcome)).toBe("quota_exceeded monthly_tokens");
    expect(taking.intake.foreseen).toEqual({ written: 0, refused: 1 });
    const exists = await inWorkspace(h.db, ws, (tx) => sql<{ n: number }>`select count(*)::int as n from executions where id = ${order.executionId}`.execute(tx));
    expect(exists.rows[0]?.n).toBe(0);
    await settle(h.db, ws);
  });
});

/** Rolls back the transaction it is thrown in, carrying what the test wants out of it. */
class RollBack<T> extends Error {
  constructor(readonly value: T) {
    super("rolled back on purpose");
  }
}

describe("write_foreseen_start writes nothing when, since the read", () => {
  /**
   * In ONE transaction of the workspace: `change`, then the statement with a start planned from
   * `foresight`, then a rollback (the worker's scheduler never sees what `change` wrote).
   * Answers whether the statement wrote the start.
   */
  const attempt = async (h: { db: Kysely<ExecutionDb>; bus: Parameters<typeof webhookOrder>[0] }, agent: Agent, foresight: Foresight, change: (tx: Transaction<ExecutionDb>) => Promise<unknown>): Promise<boolean> => {
    const order = await webhookOrder(h.bus, agent, { message: "hello" });
    const now = new Date();
    const config = foresight.agent.config;
    if (!config) throw new Error("the agent has no config");
    const plan = planStart(order, order.executionId, foresight.agent.version, config, foresight, { claim: "a claim" }, now);
    const query = foreseenStartWrite(h.db, { order, version: foresight.agent.version, plan }, foresight, { owner: "foreseen-test", leaseMs: 30_000 }, now);
    try {
      await inWorkspace(h.db, agent.workspaceId, async (tx) => {
        await change(tx);
        throw new RollBack(foreseenAnswer((await tx.executeQuery(query)).rows, order.executionId).written);
      });
    } catch (error) {
      if (error instanceof RollBack) return error.value as boolean;
      throw error;
    }
    throw new Error("the transaction was not rolled back");
  };

  /** An agent of a new pro workspace, and what a read of it says. */
  const readWorkspace = async (h: { db: Kysely<ExecutionDb>; activeAgent: (ws: string) => Promise<Agent> }): Promise<{ agent: Agent; foresight: Foresight }> => {
    const ws = uuidv7();
    const agent = await h.activeAgent(ws);
    await inWorkspace(h.db, ws, (tx) => setTier(tx, ws, "pro"));
    const facts = await inWorkspace(h.db, ws, (tx) => readWorkspaceFacts(tx, ws, [], [agent.id], new Date()));
    const known = facts.agents.get(agent.id);
    if (!known) throw new Error("the projection does not know the agent");
    return { agent, foresight: { tier: facts.tier, storedTier: facts.storedTier, tokensUsed: facts.tokensUsed, agent: known } };
  };

  test("it writes when nothing changed (what each case below changes is all that stops it)", async ({ h }) => {
    const { agent, foresight } = await readWorkspace(h);
    expect(await attempt(h, agent, foresight, async () => undefined)).toBe(true);
  });

  test("the tier changed", async ({ h }) => {
    const { agent, foresight } = await readWorkspace(h);
    expect(await attempt(h, agent, foresight, (tx) => setTier(tx, agent.workspaceId, "free"))).toBe(false);
  });

  test("an execution was queued: a lone delivery does not pass the queue", async ({ h }) => {
    const { agent, foresight } = await readWorkspace(h);
    const queued = (tx: Transaction<ExecutionDb>) =>
      sql`insert into executions (id, workspace_id, agent_id, agent_version, status, trigger, input, created_by, correlation_id, queued_event_id, attempt, last_event_seq, created_at)
          values (${uuidv7()}, ${agent.workspaceId}, ${agent.id}, 1, 'queued', '{"type":"api"}'::jsonb, 'null'::jsonb, 'test', 'c', ${uuidv7()}, 0, 1, now())`.execute(tx);
    expect(await attempt(h, agent, foresight, queued)).toBe(false);
  });

  test("the agent was paused, or deleted, or its version's config is gone", async ({ h }) => {
    const { agent, foresight } = await readWorkspace(h);
    expect(await attempt(h, agent, foresight, (tx) => sql`update agents set status = 'paused' where agent_id = ${agent.id}`.execute(tx))).toBe(false);
    expect(await attempt(h, agent, foresight, (tx) => sql`update agents set deleted = true where agent_id = ${agent.id}`.execute(tx))).toBe(false);
    expect(await attempt(h, agent, foresight, (tx) => sql`delete from agent_versions where agent_id = ${agent.id}`.execute(tx))).toBe(false);
  });
});
