import { describe, expect } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { SYSTEM_WORKSPACE_ID, type ReplayRun } from "@galaxy/contracts";
import { inWorkspace } from "@galaxy/db";
import { connectTestBus, serviceDb, testLogger } from "@galaxy/testkit";
import { createAudit, type AuditDb, type AuditService } from "@galaxy/audit";
import { eventually } from "../../test/support/harness";
import { workerTest, startHarnessFirst } from "../../test/support/fixtures";

/**
 * The worker's agent projection as a replay target (docs/replay.md): audit runs the replay and hands
 * the messages to the worker through `svc.execution.replay.*`; executions still pin the right
 * versions afterwards. Also a dead letter of the projection, redriven back to the worker.
 */

/** Request options of the operator (`galaxy-cli`) in the system workspace. */
interface OperatorOptions {
  claim: string;
  workspaceId: string;
}

/**
 * On the worker's fixtures (`h`: the file's harness and running worker, test/support/fixtures.ts),
 * each set up once per file:
 * - `audit`: the audit service on the file's database and bus, stopped before the harness closes;
 * - `asOperator`: request options with the operator's claim, for audit's and the worker's
 *   operator requests (audit runs once a test names it);
 * - `projection`: the workspace's projection, without the write times of the rows;
 * - `finished`: waits until a replay run has finished and answers it.
 */
const test = workerTest()
  .extend("audit", { scope: "file" }, async ({ h }, { onCleanup }): Promise<AuditService> => {
    const auditDb = serviceDb<AuditDb>(h.env, "audit");
    const auditBus = await connectTestBus(h.env, "audit");
    const audit = createAudit({ db: auditDb, bus: auditBus, logger: testLogger("audit") });
    onCleanup(async () => {
      await auditBus.stopIntake();
      await audit.stop();
      await auditBus.close();
      await auditDb.destroy();
    });
    await audit.start();
    return audit;
  })
  .extend("asOperator", { scope: "file" }, async ({ h, audit }) => {
    // Audit answers the operator's requests before any is made.
    void audit;
    const operator = await h.claims.sign({ ws: SYSTEM_WORKSPACE_ID, sub: "galaxy-cli", act: "operator", role: "admin" });
    return (): OperatorOptions => ({ claim: operator, workspaceId: SYSTEM_WORKSPACE_ID });
  })
  .extend("projection", { scope: "file" }, async ({ h }) => async (workspaceId: string) =>
    inWorkspace(h.db, workspaceId, async (tx) => ({
      agents: await tx.selectFrom("agents").select(["agent_id", "status", "current_version", "deleted", "updated_at"]).orderBy("agent_id").execute(),
      versions: await tx.selectFrom("agent_versions").select(["agent_id", "version", "config"]).orderBy("agent_id").orderBy("version").execute(),
    })))
  .extend("finished", { scope: "file" }, async ({ h, asOperator }) => async (id: string): Promise<ReplayRun> =>
    eventually(async () => {
      const run = await h.caller.request("audit.replays.get", { id }, asOperator());
      return run.status === "running" ? null : run;
    }, 20_000, `replay ${id}`));

describe("replay to execution-worker.agent-versions", () => {
  test("reset drops the workspace's projection and rebuilds it; live agent events wait and are applied once after; executions pin the right versions", async ({ h, audit, asOperator, projection, finished }) => {
    const ws = uuidv7();
    const other = uuidv7();
    const first = await h.activeAgent(ws, { systemPrompt: "First." });
    const second = await h.activeAgent(ws, { systemPrompt: "Second." });
    const elsewhere = await h.activeAgent(other);
    const ran = await h.startExecution(ws, first.id);
    await eventually(async () => ((await h.row(ws, ran.id)).status === "completed" ? true : null), 20_000, "the first execution");
    const before = await projection(ws);
    expect(before.agents).toHaveLength(2);
    const otherBefore = await projection(other);

    const accepted = await h.caller.request("audit.replays.start", { target: "execution-worker.agent-versions", workspaceId: ws, reset: true, ratePerSec: 5 }, asOperator());
    // While it rebuilds, a new agent is created in the workspace: its event waits for the rebuild.
    const { agent: late } = await h.registry.create(ws, { systemPrompt: "Late." });
    const run = await finished(accepted.id);
    // agent events (created, activated) of two agents are applied; the execution's events are skipped.
    expect(run).toMatchObject({ status: "completed", target: "execution-worker.agent-versions", failed: 0, applied: 4 });
    expect(run.skipped).toBeGreaterThan(0);

    const after = await eventually(async () => {
      const rows = await projection(ws);
      return rows.agents.length === 3 ? rows : null;
    }, 10_000, "the late agent");
    expect(after.agents.filter((a) => a.agent_id !== late.id)).toEqual(before.agents);
    expect(after.versions.filter((v) => v.agent_id !== late.id)).toEqual(before.versions);
    expect(after.agents.find((a) => a.agent_id === late.id)).toMatchObject({ status: "draft", current_version: 1 });
    expect(await projection(other)).toEqual(otherBefore);
    expect(await audit.operator.holds.holder(ws)).toBeNull();

    // Executions pin the rebuilt versions, straight from the projection (no registry fetch).
    const gets = h.registry.gets;
    const again = await h.startExecution(ws, second.id);
    expect(again.agentVersion).toBe(1);
    await eventually(async () => ((await h.row(ws, again.id)).status === "completed" ? true : null), 20_000, "the execution after the rebuild");
    expect(h.registry.gets).toBe(gets);
    expect(elsewhere.workspaceId).toBe(other);
  });

  test("a reset replay while 100 executions run: every execution completes once, none lost or doubled", async ({ h, asOperator, projection, finished }) => {
    const RUNS = 100;
    const ws = uuidv7();
    const agent = await h.activeAgent(ws);
    const before = await projection(ws);
    const accepted = await h.caller.request("audit.replays.start", { target: "execution-worker.agent-versions", workspaceId: ws, reset: true, ratePerSec: 20 }, asOperator());
    const started = [];
    for (let i = 0; i < RUNS; i++) started.push(await h.startExecution(ws, agent.id, { message: `run ${i}` }));
    expect(await finished(accepted.id)).toMatchObject({ status: "completed", failed: 0 });
    for (const execution of started) {
      await eventually(async () => ((await h.row(ws, execution.id)).status === "completed" ? true : null), 30_000, `execution ${execution.id}`);
      expect(execution.agentVersion).toBe(1);
    }
    const rows = await inWorkspace(h.db, ws, (tx) => tx.selectFrom("executions").select(["id", "status"]).execute());
    expect(rows).toHaveLength(RUNS);
    expect(new Set(rows.map((r) => r.id)).size).toBe(RUNS);
    expect(rows.every((r) => r.status === "completed")).toBe(true);
    expect(await projection(ws)).toEqual(before);
  });

  test("a rebuild of more agent events than one request carries (300 agents, 600 events) applies them all, in order", async ({ h, asOperator, projection, finished }) => {
    const ws = uuidv7();
    const agents = 300;
    for (let i = 0; i < agents; i++) await h.registry.createActive(ws, { systemPrompt: `Agent ${i}.` });
    const before = await eventually(async () => {
      const rows = await projection(ws);
      return rows.agents.length === agents && rows.agents.every((a) => a.status === "active") ? rows : null;
    }, 30_000, "every agent in the projection");
    const accepted = await h.caller.request("audit.replays.start", { target: "execution-worker.agent-versions", workspaceId: ws, reset: true }, asOperator());
    expect(await finished(accepted.id)).toMatchObject({ status: "completed", applied: 2 * agents, failed: 0 });
    expect(await projection(ws)).toEqual(before);
  }, 60_000);

  test("a replay without reset changes nothing", async ({ h, asOperator, projection, finished }) => {
    const ws = uuidv7();
    await h.activeAgent(ws);
    const before = await projection(ws);
    const accepted = await h.caller.request("audit.replays.start", { target: "execution-worker.agent-versions", workspaceId: ws }, asOperator());
    expect(await finished(accepted.id)).toMatchObject({ status: "completed", applied: 2, failed: 0 });
    expect(await projection(ws)).toEqual(before);
  });
});

describe("dead letters of the worker", () => {
  test("a message the projection refuses is a dead letter of execution-worker-agents; a redrive hands it back to the worker, which refuses it again and says why", async ({ h, asOperator }) => {
    const ws = uuidv7();
    const foreign = h.registry.put(uuidv7());
    const event = await h.registry.publish(ws, "agent.created", { agent: foreign }, foreign.createdBy);
    const letter = await eventually(async () => {
      const page = await h.caller.request("audit.dead_letters.list", { consumer: "execution-worker-agents", limit: 100, offset: 0 }, asOperator());
      return page.items.find((l) => l.eventId === event.id);
    }, 10_000, "the dead letter");
    expect(letter).toMatchObject({ consumer: "execution-worker-agents", subject: `evt.${ws}.agent.created`, redrive: null });
    const redriven = await h.caller.request("audit.dead_letters.redrive", { id: letter.id }, asOperator());
    expect(redriven).toMatchObject({ id: letter.id, outcome: "failed" });
    expect(redriven.error).toContain("another workspace");
    const shown = await h.caller.request("audit.dead_letters.get", { id: letter.id }, asOperator());
    expect(shown.redrive).toMatchObject({ outcome: "failed" });
  });

  test("only audit's service claim drives the worker's replay requests", async ({ h }) => {
    const member = await h.claims.sign({ ws: uuidv7(), role: "owner" });
    const request = { replayId: uuidv7(), consumer: "execution-worker-agents", workspaceId: uuidv7() };
    await expect(h.caller.request("execution.replay.reset", request, { claim: member })).rejects.toMatchObject({ status: 403, code: "replay_runner_required" });
    const registryClaim = await h.claims.sign({ ws: SYSTEM_WORKSPACE_ID, sub: "agent-registry", act: "service", role: "admin" });
    await expect(h.caller.request("execution.replay.reset", request, { claim: registryClaim, workspaceId: SYSTEM_WORKSPACE_ID })).rejects.toMatchObject({ status: 403 });
  });
});

describe("execution.rerun (galaxy executions rerun)", () => {
  test("failed executions start again as new ones linked to the original, once; a dry run only counts; only an operator may ask", async ({ h, asOperator }) => {
    const ws = uuidv7();
    // A model the dev server does not have: every execution of this agent fails.
    const agent = await h.activeAgent(ws, { model: "galaxy-dev-missing" });
    const since = new Date(Date.now() - 1_000).toISOString();
    const first = await h.startExecution(ws, agent.id, { message: "one" });
    const second = await h.startExecution(ws, agent.id, { message: "two" });
    for (const id of [first.id, second.id]) await eventually(async () => ((await h.row(ws, id)).status === "failed" ? true : null), 20_000, `execution ${id} to fail`);
    const until = new Date(Date.now() + 1).toISOString();

    const preview = await h.caller.request("execution.rerun", { agentId: agent.id, since, until, dryRun: true }, asOperator());
    expect(preview).toMatchObject({ workspaceId: ws, matched: 2, alreadyRerun: 0, started: [], dryRun: true });

    const rerun = await h.caller.request("execution.rerun", { agentId: agent.id, since, until }, asOperator());
    expect(rerun).toMatchObject({ workspaceId: ws, matched: 2, failed: [], dryRun: false });
    expect(rerun.started.map((s) => s.originalId).sort()).toEqual([first.id, second.id].sort());
    for (const { originalId, executionId } of rerun.started) {
      const row = await h.row(ws, executionId);
      expect(row.trigger).toEqual({ type: "replay", id: originalId });
      expect(row.input).toEqual((await h.row(ws, originalId)).input);
    }

    const again = await h.caller.request("execution.rerun", { agentId: agent.id, since, until }, asOperator());
    expect(again).toMatchObject({ matched: 0, alreadyRerun: 2, started: [] });
    expect(await h.caller.request("execution.rerun", { agentId: uuidv7(), since }, asOperator())).toMatchObject({ workspaceId: null, matched: 0 });

    const owner = await h.claims.sign({ ws, role: "owner" });
    await expect(h.caller.request("execution.rerun", { agentId: agent.id, since }, { claim: owner, workspaceId: ws })).rejects.toMatchObject({ status: 403, code: "system_admin_required" });
  });
});

startHarnessFirst(test);