import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { Redis } from "ioredis";
import { uuidv7 } from "@galaxy/contracts";
import { sql } from "@galaxy/db";
import { RATE_TIERS_KEY } from "@galaxy/gateway";
import { insertExecution } from "./bare";
import type { BenchContext, BenchOutcome } from "./context";
import { cpuPerUnit, perUnitLine, type CpuSeconds } from "./cpu-notes";
import { ms, perSecond, ratio, within } from "./stats";
import { galaxyCpuMeter } from "./system/proc";

export const READ_PATH = { connections: 32, durationS: 8, warmupS: 2 };
/**
 * Workspaces the reads are spread over: each credential may make 6,000 requests a minute on
 * enterprise, and reads of finished executions reach 15,000 a second, 150,000 in the run's ten
 * seconds (48 keeps each credential near 3,000, with the running executions' reads after them).
 */
export const READ_PATH_WORKSPACES = 48;
/** Who holds the lease of the running executions the benchmark reads: no worker, so none ends. */
const BENCH_LEASE_OWNER = "bench-read-path";
const TARGET_RATIO = 0.5;
const SETUP_REQUEST = fileURLToPath(new URL("./read-request.cjs", import.meta.url));

interface LoadFigures {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  total: number;
}

/**
 * Benchmark 6: `GET /api/executions/{id}` with a member's access token under autocannon (its
 * own worker thread), the requests spread over several enterprise workspaces so the API's rate
 * limits (per workspace and credential, docs/api.md) stay out of the way: first of finished
 * executions, which the gateway answers from its memory after their first read, then of running
 * ones, which it asks of the worker every time. Beside them the bare route of the baseline
 * process doing one select by primary key.
 */
export async function readPath(ctx: BenchContext): Promise<BenchOutcome> {
  const redis = new Redis(ctx.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const finished = [];
  const running = [];
  try {
    await redis.connect();
    for (const reader of ctx.tenants.readers) {
      await redis.hset(RATE_TIERS_KEY, reader.workspaceId, "enterprise");
      const row = await sql<{ id: string }>`select id from execution.executions where workspace_id = ${reader.workspaceId} and status = 'completed' limit 1`.execute(ctx.db);
      const id = row.rows[0]?.id;
      if (!id) throw new Error(`workspace ${reader.workspaceId} has no completed execution to read`);
      finished.push({ path: `/api/executions/${id}`, authorization: `Bearer ${reader.token}` });
      running.push({ path: `/api/executions/${await runningCopyOf(ctx, id)}`, authorization: `Bearer ${reader.token}` });
    }
  } finally {
    redis.disconnect();
  }
  let finishedReads: MeasuredReads, runningReads: MeasuredReads;
  try {
    finishedReads = await measureReads(ctx, finished, "finished executions");
    runningReads = await measureReads(ctx, running, "running executions ");
  } finally {
    // The benchmarks after this one run in the same workspaces: leave them no execution that never ends.
    await sql`delete from execution.executions where lease_owner = ${BENCH_LEASE_OWNER}`.execute(ctx.db);
  }

  const rowId = randomUUID();
  await insertExecution(ctx.db, { id: rowId, workspaceId: ctx.bare.workspaceId, input: { message: "read me" }, output: { text: "echo: read me" } });
  process.env.BENCH_READ_TARGETS = JSON.stringify([{ path: `/executions/${rowId}`, authorization: "none" }]);
  const bare = await load(ctx.bare.process.url);
  ctx.log(`  bare    ${perSecond(bare.requestsPerSecond, "req")}  p99 ${ms(bare.p99)}`);
  const name = "6. read path";
  return {
    rows: [...rowsOf(name, "finished", finishedReads.figures, bare), ...rowsOf(name, "running", runningReads.figures, bare)],
    notes: [
      `Read path: ${READ_PATH.durationS} s after ${READ_PATH.warmupS} s of warm-up, over ${finished.length} workspaces' tokens, each reading one finished execution (answered from the gateway's memory after its first read, docs/api.md) and then one running execution (asked of the worker every time); p50 finished ${ms(finishedReads.figures.p50)}, running ${ms(runningReads.figures.p50)}, bare ${ms(bare.p50)}; requests served: finished ${finishedReads.figures.total}, running ${runningReads.figures.total}, bare ${bare.total}.`,
      `CPU per read of a finished execution (each process's CPU time ÷ requests served; the engines' include other sessions' work): ${perUnitLine(cpuPerUnit(finishedReads.cpu, finishedReads.figures.total, 1000), 0.005, ms)}.`,
      `CPU per read of a running execution: ${perUnitLine(cpuPerUnit(runningReads.cpu, runningReads.figures.total, 1000), 0.005, ms)}.`,
    ],
  };
}

interface MeasuredReads {
  figures: LoadFigures;
  /** Each process's CPU time during the measured seconds. */
  cpu: CpuSeconds;
}

/** Galaxy's gateway under reads of `targets` (each a path and its credential), with the CPU each process spent. */
async function measureReads(ctx: BenchContext, targets: ReadonlyArray<{ path: string; authorization: string }>, what: string): Promise<MeasuredReads> {
  process.env.BENCH_READ_TARGETS = JSON.stringify(targets);
  const meter = galaxyCpuMeter(ctx.galaxy.pids(), { "bench runner (autocannon)": process.pid });
  const figures = await load(ctx.galaxy.gatewayUrl, () => meter.start());
  const cpu = await meter.stop();
  ctx.log(`  galaxy, ${what}  ${perSecond(figures.requestsPerSecond, "req")}  p99 ${ms(figures.p99)}`);
  return { figures, cpu };
}

/** The table's rows for one kind of read: requests per second against the target, and p99. */
function rowsOf(benchmark: string, kind: string, galaxy: LoadFigures, bare: LoadFigures): BenchOutcome["rows"] {
  return [
    { benchmark, metric: `GET /api/executions/{id}, ${kind}, req/s (${READ_PATH.connections} conns)`, galaxy: perSecond(galaxy.requestsPerSecond, "req"), baseline: perSecond(bare.requestsPerSecond, "req"), ratio: ratio(galaxy.requestsPerSecond, bare.requestsPerSecond), target: `≥ ${TARGET_RATIO}× bare`, met: galaxy.requestsPerSecond >= TARGET_RATIO * bare.requestsPerSecond },
    { benchmark, metric: `p99 latency, ${kind}`, galaxy: ms(galaxy.p99), baseline: ms(bare.p99), ratio: ratio(galaxy.p99, bare.p99), target: "—", met: null },
  ];
}

/**
 * A running copy of a finished execution, leased for an hour by no worker, so every read of it
 * goes to the worker as a read of a live execution does (none ends it, none claims it).
 */
async function runningCopyOf(ctx: BenchContext, finishedId: string): Promise<string> {
  const id = uuidv7();
  await sql`insert into execution.executions (id, workspace_id, agent_id, agent_version, status, trigger, input, created_by, correlation_id, traceparent, lease_owner, lease_expires_at, started_at)
    select ${id}, workspace_id, agent_id, agent_version, 'running', trigger, input, created_by, correlation_id, traceparent, ${BENCH_LEASE_OWNER}, now() + interval '1 hour', now()
      from execution.executions where id = ${finishedId}`.execute(ctx.db);
  return id;
}

/** Warms up, then measures; `measuring` is called between the two. */
async function load(baseUrl: string, measuring: () => Promise<void> = async () => undefined): Promise<LoadFigures> {
  const run = async (duration: number) => {
    const result = await within(
      autocannon({ url: baseUrl, connections: READ_PATH.connections, duration, workers: 1, timeout: 10, requests: [{ method: "GET", setupRequest: SETUP_REQUEST }] }),
      (duration + 30) * 1000,
      `autocannon on ${baseUrl}`,
    );
    const failures = result.non2xx + result.errors + result.timeouts;
    if (failures > 0) throw new Error(`${baseUrl}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts of ${result.requests.total}`);
    return result;
  };
  await run(READ_PATH.warmupS);
  await measuring();
  const result = await run(READ_PATH.durationS);
  return { requestsPerSecond: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, total: result.requests.total };
}
