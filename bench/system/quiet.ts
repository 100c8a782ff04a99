import { setTimeout as sleep } from "node:timers/promises";
import { performance } from "node:perf_hooks";
import type { CpuMeter } from "./proc";

/** Quiet: the metered processes used less than this share of one core over a second. */
const QUIET_SHARE = 0.2;
const WINDOW_MS = 1_000;

/**
 * Waits, at most `timeoutMs`, until the processes `meter` reads (Galaxy's and the engines') are
 * quiet: work an earlier benchmark left behind (benchmark 8 stops its burst's senders, not the
 * executions they started) would otherwise share the cores with the next measurement and slow
 * its baseline. Answers how long it waited and whether it got quiet.
 */
export async function untilQuiet(meter: CpuMeter, timeoutMs: number): Promise<{ waitedMs: number; quiet: boolean }> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    await meter.start();
    await sleep(WINDOW_MS);
    let used = 0;
    for (const seconds of (await meter.stop()).values()) used += seconds;
    if (used < (QUIET_SHARE * WINDOW_MS) / 1000) return { waitedMs: performance.now() - started, quiet: true };
  }
  return { waitedMs: performance.now() - started, quiet: false };
}
