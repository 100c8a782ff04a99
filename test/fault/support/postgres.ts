import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { chown, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createDb, isDbReachable } from "@galaxy/db";
import { freePort } from "@galaxy/testkit";
import { portAnswers, sleep, waitFor } from "./child";

const run = promisify(execFile);
const BIN = "/usr/lib/postgresql/15/bin";
/** uid and gid of the `postgres` user, who must own a cluster's files. */
const POSTGRES_USER = "postgres";

/**
 * A Postgres 15 cluster of the suite's own, on a free loopback port, run as the `postgres`
 * user. Durability is traded for speed (fsync off): the faults are process stops, not power
 * cuts, and a stopped or killed server keeps what it committed in its WAL either way.
 */
export class PostgresCluster {
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  get dataDir(): string {
    return join(this.dir, "data");
  }

  /** Superuser URL of the `galaxy` database (created by setup). */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/galaxy`;
  }

  static async create(): Promise<PostgresCluster> {
    const dir = await mkdtemp(join(tmpdir(), "galaxy-fault-pg-"));
    const { stdout } = await run("id", ["-u", POSTGRES_USER]);
    const { stdout: gid } = await run("id", ["-g", POSTGRES_USER]);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
    const cluster = new PostgresCluster(dir, await freePort());
    await cluster.asPostgres("initdb", ["-D", cluster.dataDir, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync", "--no-instructions"]);
    await cluster.start();
    return cluster;
  }

  private async asPostgres(binary: string, args: readonly string[]): Promise<string> {
    const { stdout } = await run("runuser", ["-u", POSTGRES_USER, "--", join(BIN, binary), ...args], { maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  }

  private get serverOptions(): string {
    return [
      `-p ${this.port}`,
      "-c listen_addresses=127.0.0.1",
      `-c unix_socket_directories=${this.dir}`,
      "-c fsync=off",
      "-c synchronous_commit=off",
      "-c full_page_writes=off",
      // Two worker instances of 100 running executions each, plus every other pool.
      "-c max_connections=400",
      "-c shared_buffers=128MB",
    ].join(" ");
  }

  async start(): Promise<void> {
    await this.asPostgres("pg_ctl", ["-D", this.dataDir, "-l", join(this.dir, "server.log"), "-o", this.serverOptions, "-w", "-t", "60", "start"]);
    await this.waitAcceptingConnections(100);
  }

  /** Waits until a query answers (a listening server may still refuse: "the database system is starting up"). */
  private async waitAcceptingConnections(everyMs: number): Promise<void> {
    const probe = createDb<unknown>({ connectionString: `postgres://postgres@127.0.0.1:${this.port}/postgres`, max: 1, applicationName: "galaxy-fault-probe" });
    try {
      await waitFor("postgres to accept connections", async () => ((await portAnswers(this.port)) && (await isDbReachable(probe)) ? true : undefined), 30_000, everyMs);
    } finally {
      await probe.destroy();
    }
  }

  /** `pg_ctl stop -m fast`: sessions are ended, the server shuts down cleanly. */
  async stop(): Promise<void> {
    await this.asPostgres("pg_ctl", ["-D", this.dataDir, "-m", "fast", "-w", "-t", "60", "stop"]);
  }

  /**
   * A fast restart, as `pg_ctl restart -m fast` does it, without pg_ctl's tenth-of-a-second
   * polling: SIGINT to the postmaster (fast shutdown: sessions ended, a clean checkpoint), then
   * start again. Returns the server's own outage (from its log: the shutdown request to ready
   * again) and the time until a query of ours answered again (spawning pg_ctl included).
   */
  async restart(): Promise<{ outageMs: number; totalMs: number }> {
    const pid = await this.postmasterPid();
    const started = Date.now();
    process.kill(pid, "SIGINT");
    // The postmaster removes its pid file as its last act; the process itself may linger as a
    // zombie until whoever adopted it reaps it, which here can take seconds.
    await waitFor("the postmaster to shut down", async () => (existsSync(join(this.dataDir, "postmaster.pid")) ? undefined : true), 30_000, 5);
    await this.asPostgres("pg_ctl", ["-D", this.dataDir, "-l", join(this.dir, "server.log"), "-o", this.serverOptions, "-W", "start"]);
    await this.waitAcceptingConnections(10);
    const totalMs = Date.now() - started;
    return { outageMs: await this.lastOutageMs(), totalMs };
  }

  /** From the server log: the last fast shutdown request to the next "ready to accept connections". */
  private async lastOutageMs(): Promise<number> {
    const log = (await readFile(join(this.dir, "server.log"), "utf8")).split("\n");
    const at = (line: string | undefined): number => Date.parse((line ?? "").slice(0, 23).replace(" ", "T") + "Z");
    const shutdown = log.findLastIndex((line) => line.includes("received fast shutdown request"));
    const ready = log.slice(shutdown).find((line) => line.includes("ready to accept connections"));
    return at(ready) - at(log[shutdown]);
  }

  private async postmasterPid(): Promise<number> {
    return Number((await readFile(join(this.dataDir, "postmaster.pid"), "utf8")).split("\n")[0]);
  }

  /** kill -9 of the postmaster; its backends notice and exit, then `start` recovers from the WAL. */
  async kill9(): Promise<void> {
    const pid = await this.postmasterPid();
    process.kill(pid, "SIGKILL");
    await waitFor("the postmaster to die", async () => (alive(pid) ? undefined : true), 10_000);
    // Backends exit on their own once they see the postmaster gone.
    await sleep(500);
  }

  async destroy(): Promise<void> {
    await this.stop().catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Whether `pid` still runs: a zombie (exited, not yet reaped by whoever adopted it) does not. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}
