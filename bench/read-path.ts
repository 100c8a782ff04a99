import { randomUUID } from "node:crypto";
import autocannon from "autocannon";
import Fastify from "fastify";
import { sql } from "@galaxy/db";
import type { BenchContext, BenchOutcome } from "./context";
import { insertExecution } from "./bare";
import { ms, perSecond, ratio, withLoopUtilization, within } from "./stats";

export interface ReadPathOptions {
  connections: number;
  durationS: number;
  warmupS: number;
}

export const READ_PATH_DEFAULTS: ReadPathOptions = { connections: 32, durationS: 10, warmupS: 2 };

interface LoadFigures {
  requestsPerSecond: number;
  /** How busy the server's event loop (this process's main thread) was during the measured run. */
  loop: number;
  p50: number;
  p99: number;
  total: number;
}

/**
 * Benchmark 3: `GET /api/executions/{id}` under autocannon (32 connections, 10 s), beside a bare
 * Fastify route doing one select by primary key. autocannon runs in a worker thread, so the load
 * generator does not share the event loop of the server it measures.
 */
export async function readPath(ctx: BenchContext, options: ReadPathOptions = READ_PATH_DEFAULTS): Promise<BenchOutcome> {
  const executionId = await ctx.client.startExecution(ctx.agentId, { message: "read me" });
  await ctx.galaxyFinished.wait(executionId, 10_000);
  const galaxy = await load(`${ctx.galaxy.url}/api/executions/${executionId}`, { authorization: ctx.client.authorization }, options);
  ctx.log(`  galaxy  ${perSecond(galaxy.requestsPerSecond, "req")}  p99 ${ms(galaxy.p99)}`);

  const bare = await startBareReader(ctx);
  try {
    const baseline = await load(`${bare.url}/executions/${bare.rowId}`, {}, options);
    ctx.log(`  bare    ${perSecond(baseline.requestsPerSecond, "req")}  p99 ${ms(baseline.p99)}`);
    const name = "3. API read path";
    return {
      rows: [
        { benchmark: name, metric: `req/s (${options.connections} conns, ${options.durationS} s)`, galaxy: perSecond(galaxy.requestsPerSecond, "req"), baseline: perSecond(baseline.requestsPerSecond, "req"), ratio: ratio(galaxy.requestsPerSecond, baseline.requestsPerSecond), target: "—", met: null },
        { benchmark: name, metric: "p99 latency", galaxy: ms(galaxy.p99), baseline: ms(baseline.p99), ratio: ratio(galaxy.p99, baseline.p99), target: "—", met: null },
      ],
      notes: [
        `Read path p50: Galaxy ${ms(galaxy.p50)}, bare ${ms(baseline.p50)}; requests served: Galaxy ${galaxy.total}, bare ${baseline.total}; the server's event loop was ${Math.round(galaxy.loop * 100)}% busy for Galaxy, ${Math.round(baseline.loop * 100)}% for the bare route (autocannon runs in a worker thread).`,
      ],
    };
  } finally {
    await bare.close();
  }
}

/** A bare Fastify route: one select by primary key on the bench database, pool as large as Galaxy's worker has. */
async function startBareReader(ctx: BenchContext): Promise<{ url: string; rowId: string; close: () => Promise<void> }> {
  const rowId = randomUUID();
  await insertExecution(ctx.bare.db, { id: rowId, workspaceId: ctx.bare.workspaceId, input: { message: "read me" }, output: { text: "echo: read me" } });
  const app = Fastify({ logger: false });
  app.get<{ Params: { id: string } }>("/executions/:id", async (request, reply) => {
    const result = await sql<Record<string, unknown>>`select * from baseline.executions where id = ${request.params.id}`.execute(ctx.bare.db);
    const row = result.rows[0];
    if (!row) return reply.code(404).send({ error: "not found" });
    return { data: row };
  });
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  return { url, rowId, close: () => app.close() };
}

async function load(url: string, headers: Record<string, string>, options: ReadPathOptions): Promise<LoadFigures> {
  const run = async (duration: number) => {
    const result = await within(autocannon({ url, headers, connections: options.connections, duration, workers: 1, timeout: 10 }), (duration + 30) * 1000, `autocannon on ${url}`);
    const failures = result.non2xx + result.errors + result.timeouts;
    if (failures > 0) throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts of ${result.requests.total}`);
    return result;
  };
  await run(options.warmupS);
  const { value: result, utilization } = await withLoopUtilization(() => run(options.durationS));
  return { requestsPerSecond: result.requests.average, loop: utilization, p50: result.latency.p50, p99: result.latency.p99, total: result.requests.total };
}
