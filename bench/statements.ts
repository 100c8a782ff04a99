import { randomUUID } from "node:crypto";
import { connect } from "@nats-io/transport-node";
import { createDb, sql } from "@galaxy/db";
import { startDevModel } from "@galaxy/dev-model/testing";
import { startGalaxy } from "../test/e2e/harness";
import { createBaselineTable, createStream, requestBareRun, serveBareWorker } from "./bare";
import { CompletionWatcher } from "./completions";
import type { BenchOutcome, ResultRow } from "./context";
import { GalaxyClient } from "./galaxy-client";
import { measureWrites } from "./pg-cost";
import { StatementCounter } from "./pg-statements";
import type { BenchWorld } from "./setup";
import { ratio } from "./stats";

const EXECUTIONS = { warmup: 20, count: 100, timeoutMs: 10_000 };
const TARGET = { statements: 12, writeTransactions: 3 };

/**
 * Benchmark 4, statements: Postgres has no `pg_stat_statements` loaded on this machine, so the
 * statements of an execution are counted where they are sent, in this process: Galaxy runs
 * here once more through the test harness (test/e2e/harness.ts, each service with its own
 * database role), and node-postgres' `Client.prototype.query` is wrapped (bench/pg-statements.ts).
 * One API-started execution at a time, from a quiet start until Postgres is quiet again, so
 * audit's work on the events is included; the bare responder beside it writes one row.
 */
export async function statementsPerExecution(world: BenchWorld, log: (line: string) => void): Promise<BenchOutcome> {
  const galaxy = await startGalaxy({ databaseUrl: world.databaseUrl, natsUrl: world.natsUrl, redisUrl: world.redisUrl, template: world.database });
  const devModel = await startDevModel();
  const db = createDb<unknown>({ connectionString: world.databaseUrlOfBench, max: 5, applicationName: "galaxy-bench-statements" });
  const nc = await connect({ servers: world.natsUrl, name: "galaxy-bench-statements" });
  const galaxyFinished = new CompletionWatcher(nc, galaxy.env.busPrefix);
  const bareFinished = new CompletionWatcher(nc, `${world.busPrefix}s`);
  const counter = new StatementCounter();
  try {
    await createBaselineTable(db);
    await createStream(nc, `${world.busPrefix}s`);
    serveBareWorker(nc, `${world.busPrefix}s`, { db, modelUrl: devModel.url });
    await nc.flush();
    const client = await GalaxyClient.signUp(galaxy.url);
    const agentId = await client.createActiveAgent();
    const galaxyDb = createDb<unknown>({ connectionString: galaxy.env.databaseUrl, max: 1, applicationName: "galaxy-bench-setup" });
    try {
      await sql`insert into execution.workspace_tiers (workspace_id, tier) values (${client.workspaceId}, 'enterprise')`.execute(galaxyDb);
    } finally {
      await galaxyDb.destroy();
    }
    const units = EXECUTIONS.warmup + EXECUTIONS.count;
    counter.start();
    const galaxyRun = await measureWrites(db, counter, units, async () => {
      for (let i = 0; i < units; i++) await galaxyFinished.wait(await client.startExecution(agentId, { message: `statements ${i}` }), EXECUTIONS.timeoutMs);
    });
    const workspaceId = randomUUID();
    const bareRun = await measureWrites(db, counter, units, async () => {
      for (let i = 0; i < units; i++) {
        const id = randomUUID();
        await requestBareRun(nc, `${world.busPrefix}s`, { id, workspaceId, message: `statements ${i}` });
        await bareFinished.wait(id, EXECUTIONS.timeoutMs);
      }
    });
    const sum = (byRole: ReadonlyMap<string, number>, mine: (role: string) => boolean) => [...byRole].reduce((total, [role, n]) => (mine(role) ? total + n : total), 0);
    const statements = sum(galaxyRun.statementsPerUnit, (role) => role.startsWith("galaxy_"));
    const bareStatements = sum(bareRun.statementsPerUnit, (role) => !role.startsWith("galaxy_"));
    log(`  galaxy  ${statements.toFixed(1)} statements, ${galaxyRun.transactionsPerUnit.toFixed(1)} write transactions per execution`);
    log(`  bare    ${bareStatements.toFixed(1)} statements, ${bareRun.transactionsPerUnit.toFixed(1)} write transactions per execution`);
    const name = "4. Postgres per execution";
    const rows: ResultRow[] = [
      { benchmark: name, metric: "statements / execution (in-process count)", galaxy: statements.toFixed(1), baseline: bareStatements.toFixed(1), ratio: ratio(statements, bareStatements), target: `≤ ${TARGET.statements}`, met: statements <= TARGET.statements },
      { benchmark: name, metric: "write transactions / execution (cluster)", galaxy: galaxyRun.transactionsPerUnit.toFixed(1), baseline: bareRun.transactionsPerUnit.toFixed(1), ratio: ratio(galaxyRun.transactionsPerUnit, bareRun.transactionsPerUnit), target: `≤ ${TARGET.writeTransactions}`, met: galaxyRun.transactionsPerUnit <= TARGET.writeTransactions },
      { benchmark: name, metric: "WAL / execution", galaxy: `${(galaxyRun.walBytesPerUnit / 1024).toFixed(1)} KiB`, baseline: `${(bareRun.walBytesPerUnit / 1024).toFixed(1)} KiB`, ratio: ratio(galaxyRun.walBytesPerUnit, bareRun.walBytesPerUnit), target: "—", met: null },
    ];
    const byRole = [...galaxyRun.statementsPerUnit]
      .filter(([role, n]) => role.startsWith("galaxy_") && n >= 0.05)
      .sort((a, b) => b[1] - a[1])
      .map(([role, n]) => `${role} ${n.toFixed(1)}`)
      .join(", ");
    return {
      rows,
      notes: [
        `Statements (benchmark 4) are counted in the bench runner's process, where Galaxy runs once more through the test harness for ${units} API-started executions one at a time: \`pg_stat_statements\` is not loaded on this machine's Postgres. By role: ${byRole}. Write transactions and WAL are the whole cluster's (transaction ids handed out, WAL bytes), so other sessions' writes on the machine's Postgres inflate both sides; the bare side's own figure shows by how much.`,
      ],
    };
  } finally {
    counter.stop();
    galaxyFinished.stop();
    bareFinished.stop();
    await nc.close();
    await db.destroy();
    await devModel.close();
    await galaxy.stop();
  }
}
