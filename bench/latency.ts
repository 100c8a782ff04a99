import { randomUUID } from "node:crypto";
import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { sql, type Kysely } from "@galaxy/db";
import { requestBareRun } from "./bare";
import type { BenchContext, BenchOutcome } from "./context";
import { sendDeliveries } from "./load/senders";
import { timeDeliveries, type DeliveryFigures } from "./load/timing";
import { cpuPerUnit, perUnitLine } from "./cpu-notes";
import { ms, ratio, summarize, type LatencySummary } from "./stats";
import { galaxyCpuMeter } from "./system/proc";

export const LATENCY = { warmup: 30, count: 300, timeoutMs: 10_000 };
/** The target for one delivery at a time (docs/benchmarks.md), with a zero-latency model. */
const TARGET = { p50: 10, p99: 25 };
/** Postgres publishes a backend's transaction counts within about 10 s of its going idle (PostgreSQL 15). */
const STATS_SETTLE_MS = 11_000;

/**
 * Benchmark 2: one signed webhook delivery at a time (one sender, in a process of its own,
 * sending the next once it has seen the previous one's `execution.completed` on the bus),
 * from the POST to the moment its `execution.completed` is seen; beside it the bare
 * responder (NATS request → model call → insert → JetStream publish), timed the same way. Also
 * counts the transactions Postgres committed in the bench database per execution (reads
 * included; `pg_stat_database.xact_commit`), which needs no help from the services' code.
 */
export async function executionLatency(ctx: BenchContext): Promise<BenchOutcome & { figures: DeliveryFigures }> {
  await sleep(STATS_SETTLE_MS);
  const before = await transactions(ctx.db, ctx.world.database);
  // The CPU each process spends on a delivery when nothing else runs: on two cores, what bounds the latency.
  const meter = galaxyCpuMeter(ctx.galaxy.pids());
  await meter.start();
  const run = sendDeliveries({ url: ctx.webhookUrl, secret: ctx.tenant.secret, count: LATENCY.warmup + LATENCY.count, concurrency: 1, label: "latency", untilCompleted: { natsUrl: ctx.world.natsUrl, busPrefix: ctx.galaxy.busPrefix, timeoutMs: LATENCY.timeoutMs } }, 180_000);
  const galaxy = await timeDeliveries(await run.done, ctx.galaxyFinished, 120_000, LATENCY.warmup);
  const cpu = await meter.stop();
  await sleep(STATS_SETTLE_MS);
  const after = await transactions(ctx.db, ctx.world.database);
  const perExecution = (after - before - 1) / (LATENCY.warmup + LATENCY.count);
  const bare = await measureBare(ctx);
  ctx.log(`  galaxy  p50 ${ms(galaxy.latency.p50)}  p99 ${ms(galaxy.latency.p99)}  (202 p50 ${ms(galaxy.accept.p50)})`);
  ctx.log(`  bare    p50 ${ms(bare.p50)}  p99 ${ms(bare.p99)}`);
  const name = "2. latency, one at a time";
  const row = (metric: "p50" | "p95" | "p99" | "max", target: number | null) => ({
    benchmark: name,
    metric: `${metric} (n=${galaxy.latency.count})`,
    galaxy: ms(galaxy.latency[metric]),
    baseline: ms(bare[metric]),
    ratio: ratio(galaxy.latency[metric], bare[metric]),
    target: target === null ? "—" : `≤ ${target} ms`,
    met: target === null ? null : galaxy.latency[metric] <= target,
  });
  return {
    figures: galaxy,
    rows: [
      row("p50", TARGET.p50),
      row("p95", null),
      row("p99", TARGET.p99),
      row("max", null),
      { benchmark: "4. Postgres per execution", metric: "transactions / execution, reads included (processes)", galaxy: perExecution.toFixed(1), baseline: "1.0", ratio: ratio(perExecution, 1), target: "—", met: null },
    ],
    notes: [
      `Latency: webhook POST → 202 p50 ${ms(galaxy.accept.p50)}, p99 ${ms(galaxy.accept.p99)}; mean POST → execution.completed ${ms(galaxy.latency.mean)} against the bare responder's ${ms(bare.mean)}.`,
      cpuNote(cpu, LATENCY.warmup + LATENCY.count),
      `Transactions per execution (benchmark 4, processes): \`xact_commit + xact_rollback\` of the bench database in \`pg_stat_database\` over the ${LATENCY.warmup + LATENCY.count} one-at-a-time deliveries, read ${STATS_SETTLE_MS / 1000} s after the last (when Postgres has published every backend's counts); it includes read-only transactions and the services' background work meanwhile (outbox sweeps, leases, consumer locks).`,
    ],
  };
}

/** The CPU per delivery of each process during the one-at-a-time run, largest first. */
function cpuNote(cpu: ReadonlyMap<string, number>, deliveries: number): string {
  const perDelivery = cpuPerUnit(cpu, deliveries, 1000);
  const total = perDelivery.reduce((sum, [, used]) => sum + used, 0);
  return `CPU per delivery, one at a time (each process's CPU time during the ${deliveries} deliveries ÷ ${deliveries}; the engines' include other sessions' work): ${ms(total)} in all, ${perUnitLine(perDelivery, 0.05, ms)}; the machine has ${availableParallelism()} cores.`;
}

async function transactions(db: Kysely<unknown>, database: string): Promise<number> {
  const result = await sql<{ n: string }>`select (xact_commit + xact_rollback)::text as n from pg_stat_database where datname = ${database}`.execute(db);
  return Number(result.rows[0]?.n ?? Number.NaN);
}

/** The bare responder, one request at a time, timed to the moment its published event is seen. */
async function measureBare(ctx: BenchContext): Promise<LatencySummary> {
  const { bare } = ctx;
  const samples: number[] = [];
  for (let i = 0; i < LATENCY.warmup + LATENCY.count; i++) {
    const id = randomUUID();
    const t0 = performance.now();
    await requestBareRun(bare.nc, bare.prefix, { id, workspaceId: bare.workspaceId, message: `latency ${i}` });
    const done = await bare.finished.wait(id, LATENCY.timeoutMs);
    if (i >= LATENCY.warmup) samples.push(done - t0);
  }
  return summarize(samples);
}
