import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { Redis } from "ioredis";
import { sql } from "@galaxy/db";
import { RATE_TIERS_KEY } from "@galaxy/gateway";
import { insertExecution } from "./bare";
import type { BenchContext, BenchOutcome } from "./context";
import { cpuPerUnit, perUnitLine } from "./cpu-notes";
import { ms, perSecond, ratio, within } from "./stats";
import { galaxyCpuMeter } from "./system/proc";

export const READ_PATH = { connections: 32, durationS: 8, warmupS: 2 };
/**
 * Workspaces the reads are spread over: each credential may make 6,000 requests a minute on
 * enterprise, and a fast hour serves 7,000 a second, 70,000 in the run (24 keeps each under 3,000).
 */
export const READ_PATH_WORKSPACES = 24;
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
 * limits (per workspace and credential, docs/api.md) stay out of the way; beside it the bare
 * route of the baseline process doing one select by primary key.
 */
export async function readPath(ctx: BenchContext): Promise<BenchOutcome> {
  const redis = new Redis(ctx.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const targets = [];
  try {
    await redis.connect();
    for (const reader of ctx.tenants.readers) {
      await redis.hset(RATE_TIERS_KEY, reader.workspaceId, "enterprise");
      const row = await sql<{ id: string }>`select id from execution.executions where workspace_id = ${reader.workspaceId} and status = 'completed' limit 1`.execute(ctx.db);
      const id = row.rows[0]?.id;
      if (!id) throw new Error(`workspace ${reader.workspaceId} has no completed execution to read`);
      targets.push({ path: `/api/executions/${id}`, authorization: `Bearer ${reader.token}` });
    }
  } finally {
    redis.disconnect();
  }
  process.env.BENCH_READ_TARGETS = JSON.stringify(targets);
  const meter = galaxyCpuMeter(ctx.galaxy.pids(), { "bench runner (autocannon)": process.pid });
  const galaxy = await load(ctx.galaxy.gatewayUrl, () => meter.start());
  const cpu = await meter.stop();
  ctx.log(`  galaxy  ${perSecond(galaxy.requestsPerSecond, "req")}  p99 ${ms(galaxy.p99)}`);

  const rowId = randomUUID();
  await insertExecution(ctx.db, { id: rowId, workspaceId: ctx.bare.workspaceId, input: { message: "read me" }, output: { text: "echo: read me" } });
  process.env.BENCH_READ_TARGETS = JSON.stringify([{ path: `/executions/${rowId}`, authorization: "none" }]);
  const bare = await load(ctx.bare.process.url);
  ctx.log(`  bare    ${perSecond(bare.requestsPerSecond, "req")}  p99 ${ms(bare.p99)}`);
  const name = "6. read path";
  return {
    rows: [
      { benchmark: name, metric: `GET /api/executions/{id}, req/s (${READ_PATH.connections} conns)`, galaxy: perSecond(galaxy.requestsPerSecond, "req"), baseline: perSecond(bare.requestsPerSecond, "req"), ratio: ratio(galaxy.requestsPerSecond, bare.requestsPerSecond), target: `≥ ${TARGET_RATIO}× bare`, met: galaxy.requestsPerSecond >= TARGET_RATIO * bare.requestsPerSecond },
      { benchmark: name, metric: "p99 latency", galaxy: ms(galaxy.p99), baseline: ms(bare.p99), ratio: ratio(galaxy.p99, bare.p99), target: "—", met: null },
    ],
    notes: [
      `Read path: ${READ_PATH.durationS} s after ${READ_PATH.warmupS} s of warm-up, over ${targets.length} workspaces' tokens; p50 Galaxy ${ms(galaxy.p50)}, bare ${ms(bare.p50)}; requests served: Galaxy ${galaxy.total}, bare ${bare.total}.`,
      `CPU per request during Galaxy's measured ${READ_PATH.durationS} s (each process's CPU time ÷ requests served; the engines' include other sessions' work): ${perUnitLine(cpuPerUnit(cpu, galaxy.total, 1000), 0.005, ms)}.`,
    ],
  };
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
