import type { BenchContext, BenchOutcome, ResultRow } from "./context";
import { sendDeliveries } from "./load/senders";
import { timeDeliveries, type DeliveryFigures } from "./load/timing";
import { ms, perSecond } from "./stats";

/** Deliveries per level when the level has no run of its own in this `make bench` (1 and 64 reuse benchmarks 2 and 3). */
const COUNTS: Record<number, number> = { 1: 100, 8: 400, 32: 600, 64: 800 };
export const LEVELS = [1, 8, 32, 64] as const;

/**
 * Benchmark 9: throughput and POST → `execution.completed` latency at 1, 8, 32 and 64
 * concurrent senders, each sending its next delivery once it has seen the previous one's
 * `execution.completed` (so as many executions are in flight as there are senders). One
 * sender is benchmark 2's run when it ran in this `make bench`.
 */
export async function scaling(ctx: BenchContext, earlier: ReadonlyMap<number, DeliveryFigures>): Promise<BenchOutcome> {
  const rows: ResultRow[] = [];
  const table = ["| senders | deliveries | executions/s | POST → completed p50 | p99 | POST → 202 p99 |", "| --- | --- | --- | --- | --- | --- |"];
  for (const senders of LEVELS) {
    let figures = earlier.get(senders);
    if (!figures) {
      const count = COUNTS[senders] ?? 100;
      const run = sendDeliveries({ url: ctx.webhookUrl, secret: ctx.tenant.secret, count, concurrency: senders, label: `scaling ${senders}`, untilCompleted: { natsUrl: ctx.world.natsUrl, busPrefix: ctx.galaxy.busPrefix, timeoutMs: 60_000 } }, 180_000);
      figures = await timeDeliveries(await run.done, ctx.galaxyFinished, 180_000);
    }
    ctx.log(`  ${String(senders).padStart(2)} senders  ${perSecond(figures.perSecond, "exec")}  p99 ${ms(figures.latency.p99)}`);
    table.push(`| ${senders} | ${figures.count.toLocaleString("en-US")} | ${Math.round(figures.perSecond)} | ${ms(figures.latency.p50)} | ${ms(figures.latency.p99)} | ${ms(figures.accept.p99)} |`);
    rows.push({ benchmark: "9. scaling", metric: `${senders} senders: /s, p99`, galaxy: `${perSecond(figures.perSecond, "exec")}, ${ms(figures.latency.p99)}`, baseline: "—", ratio: "—", target: "—", met: null });
  }
  return { rows, notes: [`Scaling (benchmark 9), signed webhook deliveries, each sender posting its next once it has seen the previous one completed:\n\n${table.map((line) => `  ${line}`).join("\n")}\n`] };
}
