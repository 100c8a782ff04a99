import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { appendFileSync, closeSync, openSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { connect as tcpConnect } from "node:net";

/**
 * A process this suite started, its output kept in a log file of its own. The child writes
 * to the file itself: its output never passes through this process's event loop (a benchmark
 * measures beside it).
 */
export class Child {
  readonly process: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    readonly name: string,
    command: string,
    args: readonly string[],
    readonly logPath: string,
    options: SpawnOptions = {},
  ) {
    appendFileSync(logPath, `--- ${new Date().toISOString()} ${command} ${args.join(" ")}\n`);
    const output = openSync(logPath, "a");
    try {
      this.process = spawn(command, args, { ...options, stdio: ["ignore", output, output] });
    } finally {
      closeSync(output);
    }
    this.exited = new Promise((resolve) => this.process.once("exit", (code, signal) => resolve({ code, signal })));
    // A spawn failure (missing binary) surfaces as an exit the callers already wait on.
    this.process.once("error", (error) => appendFileSync(logPath, `spawn error: ${error.message}\n`));
  }

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  /** Sends `signal` and waits for the exit; after `graceMs`, SIGKILL. */
  async stop(signal: NodeJS.Signals = "SIGTERM", graceMs = 20_000): Promise<void> {
    if (!this.running) return;
    this.process.kill(signal);
    const timer = setTimeout(() => this.running && this.process.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** kill -9: no handler runs, nothing is flushed. */
  async kill9(): Promise<void> {
    if (!this.running) return;
    this.process.kill("SIGKILL");
    await this.exited;
  }

  /** The last `lines` lines of its log, for a failure message. */
  async tail(lines = 40): Promise<string> {
    const text = await readFile(this.logPath, "utf8").catch(() => "");
    return text.split("\n").slice(-lines).join("\n");
  }
}

/** Whether something accepts TCP connections on loopback `port`. */
export function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every `everyMs` until it returns a value (not undefined); throws after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
