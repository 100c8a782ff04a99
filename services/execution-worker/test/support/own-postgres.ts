import { execFile } from "node:child_process";
import { chown, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "@galaxy/testkit";

const run = promisify(execFile);
const BIN = "/usr/lib/postgresql/15/bin";
const POSTGRES_USER = "postgres";

/**
 * A Postgres 15 cluster of a test's own, on a free loopback port, run as the `postgres` user,
 * so the test may stop and start it without touching the Postgres every other test uses.
 * Durability is traded for speed (fsync off): the faults are stops, not power cuts.
 */
export class OwnPostgres {
  private constructor(
    private readonly dir: string,
    readonly port: number,
  ) {}

  /** The superuser URL of the `postgres` database. */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  static async create(): Promise<OwnPostgres> {
    const dir = await mkdtemp(join(tmpdir(), "galaxy-worker-pg-"));
    const uid = Number((await run("id", ["-u", POSTGRES_USER])).stdout.trim());
    const gid = Number((await run("id", ["-g", POSTGRES_USER])).stdout.trim());
    await chown(dir, uid, gid);
    const cluster = new OwnPostgres(dir, await freePort());
    await cluster.pg("initdb", ["-D", cluster.dataDir, "-A", "trust", "-U", POSTGRES_USER, "-E", "UTF8", "--no-sync", "--no-instructions"]);
    await cluster.start();
    return cluster;
  }

  private get dataDir(): string {
    return join(this.dir, "data");
  }

  private async pg(binary: string, args: readonly string[]): Promise<void> {
    await run("runuser", ["-u", POSTGRES_USER, "--", join(BIN, binary), ...args], { maxBuffer: 16 * 1024 * 1024 });
  }

  async start(): Promise<void> {
    const options = [`-p ${this.port}`, "-c listen_addresses=127.0.0.1", `-c unix_socket_directories=${this.dir}`, "-c fsync=off", "-c synchronous_commit=off", "-c max_connections=200"].join(" ");
    await this.pg("pg_ctl", ["-D", this.dataDir, "-l", join(this.dir, "server.log"), "-o", options, "-w", "-t", "60", "start"]);
  }

  /** `pg_ctl stop -m fast`: sessions are ended, and connections refused until `start`. */
  async stop(): Promise<void> {
    await this.pg("pg_ctl", ["-D", this.dataDir, "-m", "fast", "-w", "-t", "60", "stop"]);
  }

  async destroy(): Promise<void> {
    await this.stop().catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }
}
