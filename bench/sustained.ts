import { availableParallelism } from "node:os";
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { Queue } from "bullmq";
import { z } from "zod";
import { controlDevModel } from "@galaxy/dev-model/testing";
import { ExecutionConcurrency } from "@galaxy/execution-worker";
import type { BenchContext, BenchOutcome } from "./context";
import { sendDeliveries } from "./load/senders";
import { timeDeliveries, type DeliveryFigures } from "./load/timing";
import { cpuLine, machineBusyNote } from "./cpu-notes";
import { CpuMeter, ENGINES, galaxyCpuMeter, machineBusySeconds, pidsNamed } from "./system/proc";
import { ms, perSecond, pool, ratio, within } from "./stats";

export const SUSTAINED = { count: 3_000, senders: 64, warmup: 30, timeoutMs: 240_000 };
/** The bare BullMQ worker runs as many jobs at once as Galaxy's worker runs executions (`EXECUTION_CONCURRENCY`, which the services read from the runner's environment too). */
export const BULL_CONCURRENCY = ExecutionConcurrency.parse(process.env.EXECUTION_CONCURRENCY);
/** `BENCH_MODEL_LATENCY_MS`: the dev model answers every call of this benchmark after this long, Galaxy's and BullMQ's alike (0, at once, by default). */
const ModelLatencyMs = z.coerce.number().int().min(0).max(10_000).default(0);
const TARGET_RATIO = 0.5;

/**
 * Benchmark 3: 3,000 signed deliveries from 64 senders (each sends its next delivery once
 * the previous one is answered); executions per second from the first POST to the last
 * `execution.completed`. Beside it the bare BullMQ worker (in the baseline process) doing the
 * same model call and row write per job, 3,000 jobs added by 64 producers. The CPU each
 * process used during Galaxy's run is read from /proc.
 */
export async function sustainedExecutions(ctx: BenchContext): Promise<BenchOutcome & { figures: DeliveryFigures }> {
  const latencyMs = ModelLatencyMs.parse(process.env.BENCH_MODEL_LATENCY_MS);
  if (latencyMs === 0) return measureSustained(ctx);
  await controlDevModel(ctx.galaxy.modelUrl, { latencyMs });
  let outcome: Awaited<ReturnType<typeof measureSustained>>;
  try {
    outcome = await measureSustained(ctx);
  } catch (error) {
    // The run's own failure is the one to report, whether the dev model takes its reset or not.
    await controlDevModel(ctx.galaxy.modelUrl, { latencyMs: 0 }).catch(() => undefined);
    throw error;
  }
  await controlDevModel(ctx.galaxy.modelUrl, { latencyMs: 0 });
  return { ...outcome, notes: [...outcome.notes, `The dev model answered every call of this benchmark after ${latencyMs} ms (BENCH_MODEL_LATENCY_MS); Galaxy's worker and the BullMQ worker each ran up to ${BULL_CONCURRENCY} at once.`] };
}

async function measureSustained(ctx: BenchContext): Promise<BenchOutcome & { figures: DeliveryFigures }> {
  const services = ctx.galaxy.pids();
  const meter = galaxyCpuMeter(services, { "bench runner (watcher)": process.pid });
  await meter.start();
  const machineBefore = await machineBusySeconds();
  const run = sendDeliveries({ url: ctx.webhookUrl, secret: ctx.tenant.secret, count: SUSTAINED.count, concurrency: SUSTAINED.senders, label: "sustained" }, SUSTAINED.timeoutMs);
  const sent = await run.done;
  const galaxy = await timeDeliveries(sent, ctx.galaxyFinished, SUSTAINED.timeoutMs);
  const cpu = await meter.stop();
  const machineBusy = (await machineBusySeconds()) - machineBefore;
  ctx.log(`  galaxy  ${perSecond(galaxy.perSecond, "executions")} (${(galaxy.elapsedMs / 1000).toFixed(1)} s; all 202s after ${(galaxy.acceptedMs / 1000).toFixed(1)} s)`);
  const bareMeter = new CpuMeter(async () => {
    const groups = await pidsNamed(ENGINES);
    if (ctx.bare.process.pid !== undefined) groups.set("baseline process", [ctx.bare.process.pid]);
    const model = services.get("dev-model");
    if (model !== undefined) groups.set("dev-model", [model]);
    return groups;
  });
  await bareMeter.start();
  const bull = await measureBullmq(ctx);
  const bareCpu = await bareMeter.stop();
  ctx.log(`  bullmq  ${perSecond(bull.perSecond, "jobs")} (${(bull.elapsedMs / 1000).toFixed(1)} s)`);
  const seconds = galaxy.elapsedMs / 1000;
  ctx.log(`  CPU per execution: Galaxy ${ms(cpuPerUnit(cpu, SUSTAINED.count))}, BullMQ ${ms(cpuPerUnit(bareCpu, SUSTAINED.count + SUSTAINED.warmup))}`);
  return {
    figures: galaxy,
    rows: [
      {
        benchmark: "3. sustained",
        metric: `${SUSTAINED.count} from ${SUSTAINED.senders} senders, /s`,
        galaxy: perSecond(galaxy.perSecond, "exec"),
        baseline: perSecond(bull.perSecond, "jobs"),
        ratio: ratio(galaxy.perSecond, bull.perSecond),
        target: `≥ ${TARGET_RATIO}× BullMQ`,
        met: galaxy.perSecond >= TARGET_RATIO * bull.perSecond,
      },
    ],
    notes: [
      `CPU per execution (all the processes' CPU time during the run ÷ executions; the engines' include other sessions' work): Galaxy ${ms(cpuPerUnit(cpu, SUSTAINED.count))}, the BullMQ baseline ${ms(cpuPerUnit(bareCpu, SUSTAINED.count + SUSTAINED.warmup))}. The dev model's and the runner's share is left out of both.`,
      `Sustained: Galaxy answered all ${SUSTAINED.count} deliveries 202 after ${(galaxy.acceptedMs / 1000).toFixed(1)} s (${perSecond((SUSTAINED.count * 1000) / galaxy.acceptedMs, "delivery")}) and completed the last execution after ${(galaxy.elapsedMs / 1000).toFixed(1)} s: ${galaxy.completedWhileAccepting} executions completed while deliveries were coming in (${perSecond((galaxy.completedWhileAccepting * 1000) / galaxy.acceptedMs, "exec")}), the other ${galaxy.count - galaxy.completedWhileAccepting} in the ${((galaxy.elapsedMs - galaxy.acceptedMs) / 1000).toFixed(1)} s after (${perSecond(((galaxy.count - galaxy.completedWhileAccepting) * 1000) / (galaxy.elapsedMs - galaxy.acceptedMs), "exec")}); POST → completed p50 ${ms(galaxy.latency.p50)}, p99 ${ms(galaxy.latency.p99)}. BullMQ: ${SUSTAINED.count} jobs added by ${SUSTAINED.senders} producers in ${(bull.addedMs / 1000).toFixed(1)} s, all done after ${(bull.elapsedMs / 1000).toFixed(1)} s.`,
      `CPU used during Galaxy's sustained run (${seconds.toFixed(1)} s; 100% = one core, the machine has ${availableParallelism()}): ${cpuLine(cpu, seconds)}. The engines' figures are all their processes, other sessions' work on them included. ${sendersNote(run.cpuSeconds())}${machineBusyNote(machineBusy, seconds, 0)}`,
    ],
  };
}

async function measureBullmq(ctx: BenchContext): Promise<{ perSecond: number; elapsedMs: number; addedMs: number }> {
  const queue = new Queue("executions", { connection: { url: ctx.redisUrl, maxRetriesPerRequest: null }, prefix: ctx.bare.bullPrefix });
  const runJobs = async (count: number, label: string) => {
    const ids = Array.from({ length: count }, () => randomUUID());
    const t0 = performance.now();
    let lastAdded = t0;
    const finished = ids.map((id) => ctx.bare.bullFinished.wait(id, SUSTAINED.timeoutMs));
    for (const done of finished) done.catch(() => undefined);
    await pool(count, SUSTAINED.senders, async (i) => {
      await queue.add("run", { id: ids[i], message: `${label} ${i}` });
      lastAdded = performance.now();
    });
    const done = await within(Promise.all(finished), SUSTAINED.timeoutMs, `BullMQ to finish ${count} jobs`);
    return { elapsedMs: Math.max(...done) - t0, addedMs: lastAdded - t0 };
  };
  try {
    await runJobs(SUSTAINED.warmup, "warm-up");
    const run = await runJobs(SUSTAINED.count, "sustained");
    return { ...run, perSecond: (SUSTAINED.count * 1000) / run.elapsedMs };
  } finally {
    await queue.close();
  }
}

/** Milliseconds of CPU per unit of work, the dev model and the bench runner left out. */
function cpuPerUnit(cpu: ReadonlyMap<string, number>, units: number): number {
  let seconds = 0;
  for (const [name, used] of cpu) if (name !== "dev-model" && !name.startsWith("bench runner")) seconds += used;
  return (seconds * 1000) / units;
}

/** The load's own CPU: the senders share the machine's cores with Galaxy, as real senders would not. */
function sendersNote(cpuSeconds: number | undefined): string {
  return cpuSeconds === undefined ? "" : `The webhook senders (a process of their own, not counted above) used ${cpuSeconds.toFixed(1)} s. `;
}
