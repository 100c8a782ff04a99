import { expect } from "vitest";
import { Execution } from "@galaxy/contracts";
import { inWorkspace, sql } from "@galaxy/db";
import { WAKE_SUBJECT, setTier } from "@galaxy/execution-worker";
import { queueBacklog, workspaceWithAgent } from "./backlog";
import { galaxyTest, startGalaxyFirst } from "./fixtures";
import { api, dataOf, eventually } from "./harness";

/**
 * Fair scheduling: one workspace's backlog of 500 executions does not hold back another
 * workspace's single execution, which runs at the next claim, long before most of the backlog.
 */

const BACKLOG = 500;

const test = galaxyTest({ worker: { concurrency: 8, shutdownGraceMs: 200 } });
startGalaxyFirst(test);

test("another workspace's single execution completes before most of a 500-execution backlog", async ({ galaxy, workerDb }) => {
  const busy = await workspaceWithAgent(galaxy, "Fair");
  const quiet = await workspaceWithAgent(galaxy, "Fair");
  // Pro: 500 queued fit under its queue cap.
  await inWorkspace(workerDb, busy.workspaceId, (tx) => setTier(tx, busy.workspaceId, "pro"));
  // Every model call takes a while, so the backlog takes far longer to run than to queue.
  await galaxy.devModel.control({ latencyMs: 1_500 });

  // The backlog is written straight into the queue (intake is tested elsewhere; 500 HTTP starts
  // would only slow this test down), every row older than the quiet workspace's execution.
  const template = dataOf(Execution, await api(galaxy, "POST", `/api/agents/${busy.agentId}/executions`, { token: busy.token, body: { input: { message: "b" } } }));
  const base = Date.now() - 60_000;
  await queueBacklog(workerDb, template, Array.from({ length: BACKLOG - 1 }, (_, i) => ({ input: { message: `b${i + 1}` }, createdAt: new Date(base + i + 1) })));
  galaxy.observer.publishCore(WAKE_SUBJECT, { from: "test" });
  const mine = dataOf(Execution, await api(galaxy, "POST", `/api/agents/${quiet.agentId}/executions`, { token: quiet.token, body: { input: { message: "me" } } }));

  const done = await eventually(async () => {
    const current = dataOf(Execution, await api(galaxy, "GET", `/api/executions/${mine.id}`, { token: quiet.token }));
    return current.status === "completed" ? current : undefined;
  }, 30_000, "the quiet workspace's execution to complete");
  const backlogDone = await inWorkspace(workerDb, busy.workspaceId, (tx) =>
    sql<{ n: number }>`select count(*)::int as n from executions where status not in ('queued', 'running') and completed_at <= ${new Date(done.completedAt ?? 0)}`.execute(tx),
  );
  // Without fairness it would run after all 500; it ran before even a fifth of them.
  expect(backlogDone.rows[0]?.n).toBeLessThan(BACKLOG / 5);
  const stillQueued = await inWorkspace(workerDb, busy.workspaceId, (tx) => sql<{ n: number }>`select count(*)::int as n from executions where status = 'queued'`.execute(tx));
  expect(stillQueued.rows[0]?.n).toBeGreaterThan(BACKLOG / 2);

  // The rest of the backlog need not run: cancel it and let the running ones finish before the services stop.
  await inWorkspace(workerDb, busy.workspaceId, (tx) => sql`update executions set status = 'cancelled', completed_at = now() where status = 'queued'`.execute(tx));
  await galaxy.devModel.control({ reset: true });
  await eventually(async () => {
    const running = await inWorkspace(workerDb, busy.workspaceId, (tx) => sql<{ n: number }>`select count(*)::int as n from executions where status = 'running'`.execute(tx));
    return running.rows[0]?.n === 0 ? true : undefined;
  }, 20_000, "the running executions to end");
}, 55_000);
