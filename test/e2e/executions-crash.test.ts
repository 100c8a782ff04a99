import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import { expect } from "vitest";
import { Agent, Execution, SignupResult } from "@galaxy/contracts";
import { inWorkspace, sql } from "@galaxy/db";
import { freePort } from "@galaxy/testkit";
import { WAKE_SUBJECT, setTier } from "@galaxy/execution-worker";
import { queueBacklog } from "./backlog";
import { galaxyTest, startGalaxyFirst } from "./fixtures";
import { api, dataOf, eventually } from "./harness";

/**
 * Crash safety: 200 executions queued against a slowed model, a worker PROCESS (the real
 * entry point) killed with SIGKILL while it runs many of them, then started again. Every
 * execution ends exactly once: one row, one terminal event, its tokens counted once.
 */

const ENTRY = resolve(import.meta.dirname, "../../services/execution-worker/src/main.ts");
const TOTAL = 200;
const LEASE_MS = 2_000;

/**
 * The in-process worker runs two executions at a time: the process `startWorkerProcess` starts
 * does most of the work. Each process it starts is killed after the file's last test, if still running.
 */
const test = galaxyTest({ worker: { concurrency: 2, leaseMs: LEASE_MS, shutdownGraceMs: 500 } })
  /** Starts `services/execution-worker` as its own process, on this test's database, bus and dev model. */
  .extend("startWorkerProcess", { scope: "file" }, async ({ galaxy }, { onCleanup }) => {
    const children: ChildProcess[] = [];
    onCleanup(() => {
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    });
    return async (): Promise<{ child: ChildProcess; output: () => string }> => {
      const port = await freePort();
      let output = "";
      const child = spawn(process.execPath, ["--import", "tsx", ENTRY], {
        env: {
          ...process.env,
          DATABASE_URL: galaxy.env.databaseUrl,
          NATS_URL: galaxy.env.natsUrl,
          GALAXY_BUS_PREFIX: galaxy.env.busPrefix,
          EXECUTION_WORKER_PORT: String(port),
          OPENAI_API_KEY: "galaxy-dev",
          OPENAI_BASE_URL: `${galaxy.devModel.url}/v1`,
          EXECUTION_CONCURRENCY: "16",
          EXECUTION_LEASE_MS: String(LEASE_MS),
          LOG_LEVEL: "warn",
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      children.push(child);
      child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
      child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
      await eventually(
        async () => {
          if (child.exitCode !== null) throw new Error(`the worker process exited:\n${output}`);
          return (await fetch(`http://127.0.0.1:${port}/health/ready`).then((r) => r.status === 200).catch(() => false)) ? true : undefined;
        },
        30_000,
        "the worker process to be ready",
      );
      return { child, output: () => output };
    };
  });

test("a worker process killed mid-run: every execution ends exactly once, its usage counted once", async ({ galaxy, workerDb, startWorkerProcess }) => {
  const signup = dataOf(SignupResult, await api(galaxy, "POST", "/api/auth/signup", { body: { email: `${randomUUID()}@example.com`, password: "correct horse battery", name: "Crash", workspaceName: "Crash" } }));
  const token = signup.accessToken;
  const ws = signup.workspace.id;
  // Enterprise: 200 queued and 50 at once are within the tier.
  await inWorkspace(workerDb, ws, (tx) => setTier(tx, ws, "enterprise"));
  const created = await api(galaxy, "POST", "/api/agents", { token, body: { name: "Crash", systemPrompt: "Be brief.", provider: "openai", model: "galaxy-dev-echo" } });
  const agent = dataOf(Agent, created);
  expect((await api(galaxy, "POST", `/api/agents/${agent.id}/activate`, { token })).status).toBe(200);

  await galaxy.devModel.control({ latencyMs: 400 });
  const first = await startWorkerProcess();
  // One start through the API; the other 199 written straight into the queue beside it
  // (intake is tested elsewhere; 200 HTTP starts would only slow this test down).
  const template = dataOf(Execution, await api(galaxy, "POST", `/api/agents/${agent.id}/executions`, { token, body: { input: { message: "n0" } } }));
  const backlog = Array.from({ length: TOTAL - 1 }, (_, i) => ({ input: { message: `n${i + 1}` }, createdAt: new Date() }));
  const ids = [template.id, ...(await queueBacklog(workerDb, template, backlog))];
  galaxy.observer.publishCore(WAKE_SUBJECT, { from: "test" });

  const count = async (where: "ended" | "leased_by_first") => {
    const pid = first.child.pid ?? -1;
    const query =
      where === "ended"
        ? sql<{ n: number }>`select count(*)::int as n from executions where status not in ('queued', 'running')`
        : sql<{ n: number }>`select count(*)::int as n from executions where status = 'running' and lease_owner like ${`%:${pid}:%`}`;
    return (await inWorkspace(workerDb, ws, (tx) => query.execute(tx))).rows[0]?.n ?? 0;
  };
  // Midway: the process holds the leases of several running executions right now.
  await eventually(async () => ((await count("leased_by_first")) >= 5 ? true : undefined), 20_000, "the process to run executions");
  const exited = new Promise<NodeJS.Signals | null>((done) => first.child.once("exit", (_code, signal) => done(signal)));
  first.child.kill("SIGKILL");
  expect(await exited).toBe("SIGKILL");
  expect(await count("ended")).toBeLessThan(TOTAL);

  await galaxy.devModel.control({ latencyMs: 50 });
  await startWorkerProcess();
  await eventually(async () => ((await count("ended")) === TOTAL ? true : undefined), 40_000, "every execution to end");

  const rows = await inWorkspace(workerDb, ws, (tx) => tx.selectFrom("executions").select(["id", "status", "attempt", "total_tokens", "output"]).execute());
  expect(rows).toHaveLength(TOTAL);
  expect(new Set(rows.map((r) => r.id))).toEqual(new Set(ids));
  expect(rows.filter((r) => r.status !== "completed")).toEqual([]);
  // The ones the killed process held ran again: a second attempt.
  expect(rows.filter((r) => r.attempt >= 2).length).toBeGreaterThanOrEqual(1);

  // One terminal event each, in the execution's stream and in the outbox.
  const terminal = await inWorkspace(workerDb, ws, (tx) =>
    sql<{ execution_id: string; n: number }>`select execution_id, count(*)::int as n from execution_events
      where type in ('execution.completed', 'execution.failed', 'execution.cancelled') group by execution_id`.execute(tx),
  );
startGalaxyFirst(test);
  expect(terminal.rows).toHaveLength(TOTAL);
  expect(terminal.rows.filter((r) => r.n !== 1)).toEqual([]);
  const outbox = await inWorkspace(workerDb, ws, (tx) =>
    sql<{ n: number; distinct_executions: number }>`select count(*)::int as n, count(distinct payload->'data'->>'executionId')::int as distinct_executions from outbox
      where type in ('execution.completed', 'execution.failed', 'execution.cancelled')`.execute(tx),
  );
  expect(outbox.rows[0]).toEqual({ n: TOTAL, distinct_executions: TOTAL });
  // Every event seq of each execution is 1, 2, 3… with no gap or repeat.
  const gaps = await inWorkspace(workerDb, ws, (tx) =>
    sql<{ n: number }>`select count(*)::int as n from (select execution_id, max(seq) as top, count(*) as k from execution_events group by execution_id) s where top <> k`.execute(tx),
  );
  expect(gaps.rows[0]?.n).toBe(0);

  // Usage: the month's tokens are the sum of the executions', each counted once.
  const usage = await inWorkspace(workerDb, ws, (tx) => tx.selectFrom("workspace_usage").select(["tokens", "executions"]).executeTakeFirstOrThrow());
  expect(usage.executions).toBe(TOTAL);
  expect(Number(usage.tokens)).toBe(rows.reduce((sum, r) => sum + r.total_tokens, 0));
}, 55_000);
