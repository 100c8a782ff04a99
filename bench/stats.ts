import { performance } from "node:perf_hooks";

/** Latency figures of one series, in milliseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of sorted samples (`q` in 0..1). */
function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}

export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((total, x) => total + x, 0);
  return {
    count: sorted.length,
    p50: percentile(sorted, 0.5),
    p95: percentile(sorted, 0.95),
    p99: percentile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    mean: sorted.length > 0 ? sum / sorted.length : Number.NaN,
  };
}

/** Milliseconds with a precision that suits their size. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return "n/a";
  return value < 10 ? `${value.toFixed(2)} ms` : value < 100 ? `${value.toFixed(1)} ms` : `${Math.round(value)} ms`;
}

export function perSecond(value: number, unit: string): string {
  if (!Number.isFinite(value)) return "n/a";
  return `${Math.round(value).toLocaleString("en-US")} ${unit}/s`;
}

/** `galaxy / baseline`, as "0.42×". */
export function ratio(galaxy: number, baseline: number): string {
  if (!Number.isFinite(galaxy) || !Number.isFinite(baseline) || baseline === 0) return "n/a";
  return `${(galaxy / baseline).toFixed(2)}×`;
}

/** Rejects when `promise` does not settle within `timeoutMs`: every wait of a benchmark is bounded. */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `task` for each of `count` items with at most `concurrency` in flight. */
export async function pool(count: number, concurrency: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) {
      const index = next++;
      await task(index);
    }
  });
  await Promise.all(lanes);
}

/** Share of wall time this thread's event loop was busy while `fn` ran (0..1). */
export async function withLoopUtilization<T>(fn: () => Promise<T>): Promise<{ value: T; utilization: number; busyMs: number }> {
  const start = performance.eventLoopUtilization();
  const value = await fn();
  const used = performance.eventLoopUtilization(start);
  return { value, utilization: used.utilization, busyMs: used.active };
}
