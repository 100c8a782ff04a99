import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import type { Logger } from "@galaxy/observability";

/** One program the supervisor keeps running. */
export interface Program {
  name: string;
  /** Arguments to `command` (for `make up`: the script node runs). */
  args: string[];
  /** ANSI colour of the name in front of each of its lines. */
  color?: number;
  env?: NodeJS.ProcessEnv;
}

/** How long the supervisor waits before starting a program that exited (docs/operations.md, make up). */
export interface Backoff {
  /** The first wait (default 500 ms), doubled on each exit in a row. */
  initialMs: number;
  /** The longest wait (default 10 s). */
  maxMs: number;
  /** A program that ran this long before it exited starts over at the first wait (default 30 s). */
  stableMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 500, maxMs: 10_000, stableMs: 30_000 };

export interface SupervisorOptions {
  programs: Program[];
  /** The executable (default: this Node). */
  command?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  logger: Logger;
  /** Where the programs' own lines go, prefixed with their names (default: stdout). */
  write?: (line: string) => void;
  backoff?: Partial<Backoff>;
  /** Stopped first, one after the other, before the rest (the gateway: no new work while the others finish theirs). */
  stopFirst?: string[];
  /** After a stop signal, how long a program may take before it is killed (default 20 s). */
  stopTimeoutMs?: number;
}

/** The wait before the next start after `exitsInARow` exits in a row (1 for the first). */
export function restartDelay(exitsInARow: number, backoff: Backoff = DEFAULT_BACKOFF): number {
  return Math.min(backoff.initialMs * 2 ** Math.max(0, exitsInARow - 1), backoff.maxMs);
}

interface Supervised {
  program: Program;
  child: ChildProcess | undefined;
  startedAt: number;
  exitsInARow: number;
  restarts: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Runs programs as child processes and starts again any that exits while it is not being
 * stopped, waiting longer after each exit in a row, so one crashing program never takes
 * the others down. `stop()` stops them gracefully: `stopFirst` in order, then the rest.
 */
export class Supervisor {
  private readonly supervised: Supervised[];
  private readonly backoff: Backoff;
  private readonly write: (line: string) => void;
  private stopping = false;

  constructor(private readonly options: SupervisorOptions) {
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.write = options.write ?? ((line) => process.stdout.write(`${line}\n`));
    this.supervised = options.programs.map((program) => ({ program, child: undefined, startedAt: 0, exitsInARow: 0, restarts: 0, timer: undefined }));
  }

  start(): void {
    for (const entry of this.supervised) this.spawn(entry);
  }

  /** How often each program has been started again. */
  restarts(): Record<string, number> {
    return Object.fromEntries(this.supervised.map((entry) => [entry.program.name, entry.restarts]));
  }

  /** The process id of a running program. */
  pid(name: string): number | undefined {
    const entry = this.supervised.find((s) => s.program.name === name);
    return entry?.child && running(entry.child) ? entry.child.pid : undefined;
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const entry of this.supervised) clearTimeout(entry.timer);
    const first = (this.options.stopFirst ?? []).flatMap((name) => this.supervised.filter((s) => s.program.name === name));
    const rest = this.supervised.filter((entry) => !first.includes(entry));
    const killer = setTimeout(() => {
      for (const entry of this.supervised) {
        if (entry.child && running(entry.child)) {
          this.options.logger.warn({ program: entry.program.name }, "did not stop in time; killing it");
          entry.child.kill("SIGKILL");
        }
      }
    }, this.options.stopTimeoutMs ?? 20_000);
    try {
      for (const entry of first) await terminate(entry.child);
      await Promise.all(rest.map((entry) => terminate(entry.child)));
    } finally {
      clearTimeout(killer);
    }
  }

  private spawn(entry: Supervised): void {
    const { program } = entry;
    const child = spawn(this.options.command ?? process.execPath, program.args, {
      cwd: this.options.cwd,
      env: { ...this.options.env, ...program.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    entry.child = child;
    entry.startedAt = Date.now();
    const prefix = program.color === undefined ? `${program.name.padEnd(9)}| ` : `\x1b[${program.color}m${program.name.padEnd(9)}|\x1b[0m `;
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) createInterface({ input: stream }).on("line", (line) => this.write(`${prefix}${line}`));
    }
    child.once("error", (error) => this.options.logger.error({ program: program.name, err: error }, "could not start"));
    child.once("exit", (code, signal) => this.exited(entry, code, signal));
  }

  private exited(entry: Supervised, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.stopping) return;
    const ranMs = Date.now() - entry.startedAt;
    entry.exitsInARow = ranMs >= this.backoff.stableMs ? 1 : entry.exitsInARow + 1;
    const delayMs = restartDelay(entry.exitsInARow, this.backoff);
    entry.restarts += 1;
    this.options.logger.error(
      { program: entry.program.name, code, signal, ranMs, exitsInARow: entry.exitsInARow, restartInMs: delayMs },
      `${entry.program.name} exited (${signal ? `signal ${signal}` : `code ${code}`}); starting it again in ${(delayMs / 1000).toFixed(1)} s`,
    );
    entry.timer = setTimeout(() => {
      if (!this.stopping) this.spawn(entry);
    }, delayMs);
  }
}

function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Sends SIGTERM and waits for the exit. */
async function terminate(child: ChildProcess | undefined): Promise<void> {
  if (!child || !running(child)) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  await exited;
}
