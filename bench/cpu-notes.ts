import { availableParallelism } from "node:os";

/** What a benchmark's CPU meter measured: CPU seconds by process group. */
export type CpuSeconds = ReadonlyMap<string, number>;

/** CPU seconds by process group, largest first, with the share of one core over `seconds`. */
export function cpuLine(cpu: CpuSeconds, seconds: number): string {
  return [...cpu]
    .sort((a, b) => b[1] - a[1])
    .map(([name, used]) => `${name} ${used.toFixed(1)} s (${Math.round((used / seconds) * 100)}%)`)
    .join(", ");
}

/**
 * Each process group's CPU per unit of work (`units` of it done meanwhile), in `scale` parts of
 * a second (1,000: milliseconds), largest first.
 */
export function cpuPerUnit(cpu: CpuSeconds, units: number, scale: number): Array<readonly [string, number]> {
  return [...cpu].map(([name, seconds]) => [name, (seconds * scale) / units] as const).sort((a, b) => b[1] - a[1]);
}

/** "name figure, …" of the groups at or above `minimum`, each figure written by `format`. */
export function perUnitLine(shares: ReadonlyArray<readonly [string, number]>, minimum: number, format: (value: number) => string): string {
  return shares
    .filter(([, used]) => used >= minimum)
    .map(([name, used]) => `${name} ${format(used)}`)
    .join(", ");
}

/** How busy the whole machine was during `seconds` of work, all its cores together. */
export function machineBusyNote(busySeconds: number, seconds: number, digits: number): string {
  const available = seconds * availableParallelism();
  return `The whole machine was busy ${busySeconds.toFixed(digits)} CPU-seconds of ${available.toFixed(digits)} meanwhile (${Math.round((busySeconds / available) * 100)}%).`;
}
