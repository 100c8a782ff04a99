import { readdir, readFile } from "node:fs/promises";

/** Clock ticks per second of /proc/<pid>/stat's CPU times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** Resident memory of a process in MiB (`VmRSS` of /proc/<pid>/status); undefined once it is gone. */
export async function rssMiB(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => undefined);
  const kib = status ? /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] : undefined;
  return kib === undefined ? undefined : Number(kib) / 1024;
}

/** CPU seconds a process has used so far (user + system); 0 once it is gone. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  if (!stat) return 0;
  // The fields after the command name (which may hold spaces) in parentheses; utime and stime are the 14th and 15th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** The machine's engines, by command name. */
export const ENGINES = ["postgres", "nats-server", "redis-server"] as const;

/** Processes by their command name (`postgres`, `nats-server`, `redis-server`): the machine's engines. */
export async function pidsNamed(names: readonly string[]): Promise<Map<string, number[]>> {
  const found = new Map<string, number[]>(names.map((name) => [name, []]));
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const comm = (await readFile(`/proc/${entry}/comm`, "utf8").catch(() => "")).trim();
    found.get(comm)?.push(Number(entry));
  }
  return found;
}

/** CPU seconds of named groups of processes, read at the start and at the end of a stretch of work. */
export class CpuMeter {
  private before = new Map<number, number>();

  constructor(private readonly groups: () => Promise<Map<string, number[]>>) {}

  async start(): Promise<void> {
    this.before = new Map();
    for (const pids of (await this.groups()).values()) for (const pid of pids) this.before.set(pid, await cpuSeconds(pid));
  }

  /**
   * CPU seconds each group used since `start`: per process, its time now less its time then
   * (a process started meanwhile counts whole; one that ended meanwhile is not counted).
   */
  async stop(): Promise<Map<string, number>> {
    const used = new Map<string, number>();
    for (const [group, pids] of await this.groups()) {
      let sum = 0;
      for (const pid of pids) sum += Math.max(0, (await cpuSeconds(pid)) - (this.before.get(pid) ?? 0));
      used.set(group, sum);
    }
    return used;
  }
}

/** CPU seconds the whole machine has been busy so far, all cores (/proc/stat: everything but idle and iowait). */
export async function machineBusySeconds(): Promise<number> {
  const stat = await readFile("/proc/stat", "utf8");
  const fields = (stat.split("\n")[0] ?? "").trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND;
}

/**
 * A meter of the engines and of Galaxy's processes (`services`: pid by name, as
 * `GalaxySystem.pids()` gives them), and of `others` (pid by label: the bench runner, say).
 */
export function galaxyCpuMeter(services: ReadonlyMap<string, number>, others: Readonly<Record<string, number>> = {}): CpuMeter {
  return new CpuMeter(async () => {
    const groups = await pidsNamed(ENGINES);
    for (const [name, pid] of services) groups.set(name, [pid]);
    for (const [label, pid] of Object.entries(others)) groups.set(label, [pid]);
    return groups;
  });
}
