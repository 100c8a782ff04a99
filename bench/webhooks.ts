import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import type { BenchContext, BenchOutcome } from "./context";
import { cpuLine } from "./cpu-notes";
import { galaxyCpuMeter } from "./system/proc";
import { untilQuiet } from "./system/quiet";
import { ms, perSecond, ratio, within } from "./stats";

export const INTAKE = { connections: 64, durationS: 6, warmupS: 1, quietWaitMs: 120_000 };
const TARGET_RATIO = 0.8;
const SETUP_REQUEST = fileURLToPath(new URL("./webhooks-request.cjs", import.meta.url));

interface LoadFigures {
  perSecond: number;
  p50: number;
  p99: number;
  total: number;
}

/**
 * Benchmark 1: signed webhook deliveries (`POST /hooks/{triggerId}`, 202 once JetStream has
 * stored the delivery) under autocannon at 64 connections, every request a new delivery signed
 * in autocannon's worker thread; beside it the baseline process's bare route: the same
 * Standard Webhooks check, a JSON parse and one JetStream publish awaited before the 202.
 * Galaxy's worker turns the deliveries into executions meanwhile, as it would; the bare route
 * runs first, so that work does not weigh on it, and only once what earlier benchmarks left
 * queued is done (Galaxy and the engines quiet).
 */
export async function webhookIntake(ctx: BenchContext): Promise<BenchOutcome> {
  // The bare route first: Galaxy's own deliveries then turn into executions during Galaxy's run only, as they would.
  const settled = await untilQuiet(galaxyCpuMeter(ctx.galaxy.pids()), INTAKE.quietWaitMs);
  ctx.log(`  ${settled.quiet ? "quiet" : "still busy"} after ${(settled.waitedMs / 1000).toFixed(1)} s`);
  process.env.BENCH_WEBHOOK_SECRET = ctx.bare.secret;
  const bare = await load(`${ctx.bare.process.url}/hooks/bare`, async () => undefined);
  ctx.log(`  bare    ${perSecond(bare.perSecond, "delivery")}  p99 ${ms(bare.p99)}`);
  process.env.BENCH_WEBHOOK_SECRET = ctx.tenant.secret;
  const meter = galaxyCpuMeter(ctx.galaxy.pids());
  const galaxy = await load(ctx.webhookUrl, async () => meter.start());
  const cpu = await meter.stop();
  ctx.log(`  galaxy  ${perSecond(galaxy.perSecond, "delivery")}  p99 ${ms(galaxy.p99)}`);
  const name = "1. intake";
  return {
    rows: [
      { benchmark: name, metric: `202/s (${INTAKE.connections} conns, ${INTAKE.durationS} s)`, galaxy: perSecond(galaxy.perSecond, "delivery"), baseline: perSecond(bare.perSecond, "delivery"), ratio: ratio(galaxy.perSecond, bare.perSecond), target: `≥ ${TARGET_RATIO}× bare`, met: galaxy.perSecond >= TARGET_RATIO * bare.perSecond },
      { benchmark: name, metric: "p99 latency", galaxy: ms(galaxy.p99), baseline: ms(bare.p99), ratio: ratio(galaxy.p99, bare.p99), target: "—", met: null },
    ],
    notes: [`Intake: ${quietNote(settled)} p50 Galaxy ${ms(galaxy.p50)}, bare ${ms(bare.p50)}; deliveries accepted in the measured ${INTAKE.durationS} s: Galaxy ${galaxy.total}, bare ${bare.total} (Galaxy's worker was turning them into executions meanwhile). CPU during Galaxy's measured ${INTAKE.durationS} s: ${cpuLine(cpu, INTAKE.durationS)}.`],
  };
}

async function load(url: string, beforeMeasuring: () => Promise<void>): Promise<LoadFigures> {
  const run = async (duration: number) => {
    const result = await within(
      autocannon({ url, method: "POST", connections: INTAKE.connections, duration, workers: 1, timeout: 10, requests: [{ method: "POST", setupRequest: SETUP_REQUEST }] }),
      (duration + 30) * 1000,
      `autocannon on ${url}`,
    );
    const failures = result.non2xx + result.errors + result.timeouts;
    if (failures > 0) throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts of ${result.requests.total}`);
    return result;
  };
  await run(INTAKE.warmupS);
  await beforeMeasuring();
  const result = await run(INTAKE.durationS);
  return { perSecond: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, total: result.requests.total };
}

/** Whether benchmark 1's baseline started with Galaxy and the engines quiet, and after how long. */
function quietNote({ quiet, waitedMs }: { quiet: boolean; waitedMs: number }): string {
  const waited = `${(waitedMs / 1000).toFixed(1)} s`;
  return quiet
    ? `measured once Galaxy and the engines were quiet (under a fifth of a core in all over a second), after ${waited} for what earlier benchmarks left queued.`
    : `Galaxy and the engines were still busy after ${waited} of waiting for what earlier benchmarks left queued; measured anyway.`;
}
