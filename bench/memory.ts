import type { BenchContext, BenchOutcome } from "./context";
import { rssMiB } from "./system/proc";

const LIMIT_MIB = 120;

/** Benchmark 7: resident memory of every compiled service (VmRSS in /proc), read right after the sustained run. */
export async function serviceMemory(ctx: BenchContext): Promise<BenchOutcome> {
  const rows = [];
  for (const [name, pid] of ctx.galaxy.pids()) {
    const rss = await rssMiB(pid);
    if (rss === undefined) throw new Error(`${name} (pid ${pid}) is gone`);
    ctx.log(`  ${name.padEnd(17)} ${rss.toFixed(0)} MiB`);
    const service = name !== "dev-model";
    rows.push({ benchmark: "7. memory after sustained", metric: `${name} RSS`, galaxy: `${rss.toFixed(0)} MiB`, baseline: "—", ratio: "—", target: service ? `< ${LIMIT_MIB} MB` : "—", met: service ? rss * 1.048576 < LIMIT_MIB : null });
  }
  return { rows, notes: [] };
}
