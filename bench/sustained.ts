import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { Queue, Worker } from "bullmq";
import type { BenchContext, BenchOutcome } from "./context";
import { callModel, insertExecution } from "./bare";
import { ms, perSecond, pool, ratio, summarize, withLoopUtilization, within } from "./stats";

export interface SustainedOptions {
  count: number;
  /** HTTP clients (Galaxy) and producers (BullMQ) submitting at once. */
  clients: number;
  /** The bare BullMQ worker's concurrency: Galaxy's worker default (`EXECUTION_CONCURRENCY`). */
  workerConcurrency: number;
  warmup: number;
  /** For the whole run of one side. */
  timeoutMs: number;
}

export const SUSTAINED_DEFAULTS: SustainedOptions = { count: 1_000, clients: 32, workerConcurrency: 8, warmup: 30, timeoutMs: 90_000 };

/**
 * Benchmark 2: 1,000 executions submitted by 32 HTTP clients at once; executions per second from
 * the first submit to the last `execution.completed`. Beside it a bare BullMQ worker doing one
 * insert and one model call per job at concurrency 8.
 */
export async function sustainedExecutions(ctx: BenchContext, options: SustainedOptions = SUSTAINED_DEFAULTS): Promise<BenchOutcome> {
  const { value: galaxy, utilization: galaxyLoop, busyMs: galaxyBusy } = await withLoopUtilization(() => measureGalaxy(ctx, options));
  ctx.log(`  galaxy  ${perSecond(galaxy.perSecond, "executions")} (${(galaxy.elapsedMs / 1000).toFixed(2)} s, event loop ${pct(galaxyLoop)} busy)`);
  const bullmq = await measureBullmq(ctx, options);
  const { utilization: bullmqLoop, busyMs: bullmqBusy } = bullmq.loop;
  ctx.log(`  bullmq  ${perSecond(bullmq.perSecond, "jobs")} (${(bullmq.elapsedMs / 1000).toFixed(2)} s, event loop ${pct(bullmqLoop)} busy)`);
  return {
    rows: [
      {
        benchmark: "2. sustained executions",
        metric: `${options.count} at ${options.clients} clients, /s`,
        galaxy: perSecond(galaxy.perSecond, "exec"),
        baseline: perSecond(bullmq.perSecond, "jobs"),
        ratio: ratio(galaxy.perSecond, bullmq.perSecond),
        target: "≥ bare BullMQ",
        met: galaxy.perSecond >= bullmq.perSecond,
      },
    ],
    notes: [
      `Galaxy: all ${options.count} POSTs answered 202 after ${(galaxy.submittedMs / 1000).toFixed(2)} s (${perSecond((options.count * 1000) / galaxy.submittedMs, "req")}); ${galaxy.completedWhileSubmitting} executions completed meanwhile (${perSecond((galaxy.completedWhileSubmitting * 1000) / galaxy.submittedMs, "exec")}), the other ${options.count - galaxy.completedWhileSubmitting} in the ${((galaxy.elapsedMs - galaxy.submittedMs) / 1000).toFixed(2)} s after (${perSecond(((options.count - galaxy.completedWhileSubmitting) * 1000) / (galaxy.elapsedMs - galaxy.submittedMs), "exec")}). Submit → completed under this load: p50 ${ms(galaxy.latency.p50)}, p99 ${ms(galaxy.latency.p99)}. The process's event loop (all of Galaxy, the dev model, the clients) was ${pct(galaxyLoop)} busy: ${ms(galaxyBusy / options.count)} of main-thread time per execution.`,
      `BullMQ: ${options.count} jobs added in ${(bullmq.submittedMs / 1000).toFixed(2)} s by ${options.clients} producers, all completed after ${(bullmq.elapsedMs / 1000).toFixed(2)} s; event loop ${pct(bullmqLoop)} busy: ${ms(bullmqBusy / options.count)} per job.`,
    ],
  };
}

async function measureGalaxy(ctx: BenchContext, options: SustainedOptions) {
  const submittedAt = new Array<number>(options.count);
  const finished: Array<Promise<number>> = [];
  const t0 = performance.now();
  let lastAccepted = t0;
  await within(
    pool(options.count, options.clients, async (i) => {
      submittedAt[i] = performance.now();
      const id = await ctx.client.startExecution(ctx.agentId, { message: `sustained ${i}` });
      lastAccepted = performance.now();
      const done = ctx.galaxyFinished.wait(id, options.timeoutMs);
      // Awaited below with the others; handled here so an abandoned run leaves no unhandled rejection.
      done.catch(() => undefined);
      finished[i] = done;
    }),
    options.timeoutMs,
    "Galaxy to accept every execution",
  );
  const done = await within(Promise.all(finished), options.timeoutMs, "Galaxy to finish every execution");
  const last = Math.max(...done);
  const elapsedMs = last - t0;
  return {
    perSecond: (options.count * 1000) / elapsedMs,
    elapsedMs,
    submittedMs: lastAccepted - t0,
    completedWhileSubmitting: done.filter((at) => at <= lastAccepted).length,
    latency: summarize(done.map((at, i) => at - (submittedAt[i] ?? t0))),
  };
}

async function measureBullmq(ctx: BenchContext, options: SustainedOptions) {
  const { bare, world } = ctx;
  const connection = { url: world.redisUrl, maxRetriesPerRequest: null };
  const queueName = "executions";
  const queue = new Queue(queueName, { connection, prefix: world.redisPrefix });
  let completed = 0;
  let target = 0;
  let lastCompletedAt = 0;
  let onTarget: (() => void) | undefined;
  let onFailure: ((error: Error) => void) | undefined;
  const worker = new Worker<{ id: string; message: string }>(
    queueName,
    async (job) => {
      const text = await callModel(bare.modelUrl, job.data.message);
      await insertExecution(bare.db, { id: job.data.id, workspaceId: bare.workspaceId, input: { message: job.data.message }, output: { text } });
      return text;
    },
    { connection, prefix: world.redisPrefix, concurrency: options.workerConcurrency, removeOnComplete: { count: 0 }, removeOnFail: { count: 100 } },
  );
  worker.on("completed", () => {
    completed++;
    lastCompletedAt = performance.now();
    if (completed >= target) onTarget?.();
  });
  worker.on("failed", (job, error) => onFailure?.(new Error(`BullMQ job ${job?.id ?? "?"} failed: ${error.message}`)));
  const runJobs = async (count: number, label: string) => {
    completed = 0;
    target = count;
    const allDone = new Promise<void>((resolve, reject) => {
      onTarget = resolve;
      onFailure = reject;
    });
    allDone.catch(() => undefined);
    const t0 = performance.now();
    let lastAdded = t0;
    await pool(count, options.clients, async (i) => {
      await queue.add("run", { id: randomUUID(), message: `${label} ${i}` });
      lastAdded = performance.now();
    });
    await within(allDone, options.timeoutMs, `BullMQ to finish ${count} jobs`);
    return { elapsedMs: lastCompletedAt - t0, submittedMs: lastAdded - t0 };
  };
  try {
    await worker.waitUntilReady();
    await runJobs(options.warmup, "warm-up");
    const { value: run, ...loop } = await withLoopUtilization(() => runJobs(options.count, "sustained"));
    return { ...run, loop, perSecond: (options.count * 1000) / run.elapsedMs };
  } finally {
    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
  }
}

function pct(utilization: number): string {
  return `${Math.round(utilization * 100)}%`;
}
