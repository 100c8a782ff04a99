import { mkdir, writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { join } from "node:path";

/**
 * A CPU profile of this process over one stretch of a benchmark (`BENCH_CPU_PROF=<dir>`): the
 * replay rebuild runs audit in the runner, so the profile has to cover only the rebuild, not
 * the publishing and live ingest before it. Answers a function that stops it and writes
 * `<dir>/<name>.cpuprofile` (once: a second call does nothing); without `BENCH_CPU_PROF`, one
 * that does nothing.
 */
export async function profileStretch(name: string): Promise<() => Promise<void>> {
  const dir = process.env.BENCH_CPU_PROF;
  if (!dir) return async () => undefined;
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  let stopped = false;
  return async () => {
    if (stopped) return;
    stopped = true;
    const { profile } = await session.post("Profiler.stop");
    session.disconnect();
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
  };
}
