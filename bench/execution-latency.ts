import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { BenchContext, BenchOutcome } from "./context";
import { requestBareRun } from "./bare";
import { calibrateRoundTrips, measureWrites } from "./pg-cost";
import { StatementCounter } from "./pg-statements";
import { ms, ratio, summarize, withLoopUtilization, type LatencySummary } from "./stats";

export interface LatencyOptions {
  warmup: number;
  count: number;
  /** Per execution, before the benchmark gives up. */
  timeoutMs: number;
}

export const LATENCY_DEFAULTS: LatencyOptions = { warmup: 30, count: 300, timeoutMs: 10_000 };

/** The target for one execution at a time (docs/benchmarks.md), with a zero-latency model. */
const TARGET = { p50: 10, p99: 25 };

/**
 * Benchmark 1: one execution at a time, from the POST to the moment its `execution.completed`
 * is seen on the bus; beside it the bare floor (NATS request → model call → insert →
 * JetStream publish), timed the same way.
 */
export async function executionLatency(ctx: BenchContext, options: LatencyOptions = LATENCY_DEFAULTS): Promise<BenchOutcome> {
  const executions = options.warmup + options.count;
  const counter = new StatementCounter();
  counter.start();
  const runs = await Promise.resolve()
    .then(async () => ({
      galaxyRun: await measureWrites(ctx.bare.db, counter, executions, () => withLoopUtilization(() => measureGalaxy(ctx, options))),
      bareRun: await measureWrites(ctx.bare.db, counter, executions, () => withLoopUtilization(() => measureBare(ctx, options))),
    }))
    .finally(() => counter.stop());
  const { galaxyRun, bareRun } = runs;
  const galaxy = galaxyRun.value.value;
  const bare = bareRun.value.value;
  const calibration = await calibrateRoundTrips(ctx.bare.db);
  ctx.log(`  galaxy  p50 ${ms(galaxy.total.p50)}  p99 ${ms(galaxy.total.p99)}  (202 p50 ${ms(galaxy.accepted.p50)})`);
  ctx.log(`  bare    p50 ${ms(bare.p50)}  p99 ${ms(bare.p99)}`);
  const name = "1. execution latency, one at a time";
  const row = (metric: "p50" | "p95" | "p99" | "max", target: number | null) => ({
    benchmark: name,
    metric: `${metric} (n=${galaxy.total.count})`,
    galaxy: ms(galaxy.total[metric]),
    baseline: ms(bare[metric]),
    ratio: ratio(galaxy.total[metric], bare[metric]),
    target: target === null ? "—" : `≤ ${target} ms`,
    met: target === null ? null : galaxy.total[metric] <= target,
  });
  const cost = (metric: string, g: number, b: number) => ({ benchmark: name, metric, galaxy: g.toFixed(1), baseline: b.toFixed(1), ratio: ratio(g, b), target: "—", met: null });
  return {
    rows: [
      row("p50", TARGET.p50),
      row("p95", null),
      row("p99", TARGET.p99),
      row("max", null),
      cost("Postgres statements / execution", total(galaxyRun.statementsPerUnit, (role) => role.startsWith("galaxy_")), total(bareRun.statementsPerUnit, (role) => !role.startsWith("galaxy_"))),
      cost("Postgres write transactions / execution", galaxyRun.transactionsPerUnit, bareRun.transactionsPerUnit),
      { ...cost("WAL / execution", galaxyRun.walBytesPerUnit / 1024, bareRun.walBytesPerUnit / 1024), galaxy: `${(galaxyRun.walBytesPerUnit / 1024).toFixed(1)} KiB`, baseline: `${(bareRun.walBytesPerUnit / 1024).toFixed(1)} KiB` },
    ],
    notes: [
      `Postgres statements per execution by role: ${[...galaxyRun.statementsPerUnit]
        .filter(([role, n]) => role.startsWith("galaxy_") && n >= 0.05)
        .sort((a, b) => b[1] - a[1])
        .map(([role, n]) => `${role} ${n.toFixed(1)}`)
        .join(", ")}.`,
      `Galaxy, POST → 202 alone: p50 ${ms(galaxy.accepted.p50)}, p99 ${ms(galaxy.accepted.p99)}; 202 → execution.completed seen: p50 ${ms(galaxy.running.p50)}, p99 ${ms(galaxy.running.p99)}.`,
      `Mean: Galaxy ${ms(galaxy.total.mean)}, bare ${ms(bare.mean)}. Main-thread time per execution (event loop busy): Galaxy ${ms(galaxyRun.value.busyMs / executions)}, bare ${ms(bareRun.value.busyMs / executions)}.`,
      `On this machine one Postgres round trip (\`select 1\`) takes p50 ${ms(calibration.roundTrip.p50)} (p99 ${ms(calibration.roundTrip.p99)}); one committed single-row insert p50 ${ms(calibration.commit.p50)} (p99 ${ms(calibration.commit.p99)}).`,
    ],
  };
}

async function measureGalaxy(ctx: BenchContext, options: LatencyOptions): Promise<{ total: LatencySummary; accepted: LatencySummary; running: LatencySummary }> {
  const total: number[] = [];
  const accepted: number[] = [];
  const running: number[] = [];
  for (let i = 0; i < options.warmup + options.count; i++) {
    const t0 = performance.now();
    const id = await ctx.client.startExecution(ctx.agentId, { message: `latency ${i}` });
    const t1 = performance.now();
    const done = await ctx.galaxyFinished.wait(id, options.timeoutMs);
    if (i < options.warmup) continue;
    total.push(done - t0);
    accepted.push(t1 - t0);
    // The event can be seen before the 202 is read; that part then counts as zero.
    running.push(Math.max(0, done - t1));
  }
  return { total: summarize(total), accepted: summarize(accepted), running: summarize(running) };
}

async function measureBare(ctx: BenchContext, options: LatencyOptions): Promise<LatencySummary> {
  const { bare } = ctx;
  const samples: number[] = [];
  for (let i = 0; i < options.warmup + options.count; i++) {
    const id = randomUUID();
    const t0 = performance.now();
    await requestBareRun(bare.nc, bare.prefix, { id, workspaceId: bare.workspaceId, message: `latency ${i}` });
    const done = await bare.finished.wait(id, options.timeoutMs);
    if (i >= options.warmup) samples.push(done - t0);
  }
  return summarize(samples);
}

/** Statements of the roles `mine` selects: Galaxy's services run as `galaxy_*`, the bare side as the superuser. */
function total(byRole: ReadonlyMap<string, number>, mine: (role: string) => boolean): number {
  return [...byRole].reduce((sum, [role, n]) => (mine(role) ? sum + n : sum), 0);
}
