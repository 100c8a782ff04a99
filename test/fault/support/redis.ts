import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@galaxy/testkit";
import { Child, portAnswers, waitFor } from "./child";

/**
 * A redis-server of the suite's own. It keeps an append-only file, as a production Redis
 * holding schedules and rate-limit windows would, so a stop and start loses nothing.
 */
export class RedisServer {
  private child: Child | undefined;

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async create(): Promise<RedisServer> {
    const server = new RedisServer(await mkdtemp(join(tmpdir(), "galaxy-fault-redis-")), await freePort());
    await server.start();
    return server;
  }

  async start(): Promise<void> {
    const args = ["--port", String(this.port), "--bind", "127.0.0.1", "--dir", this.dir, "--save", "", "--appendonly", "yes", "--appendfsync", "everysec", "--daemonize", "no"];
    const child = new Child("redis-server", "redis-server", args, join(this.dir, "server.log"));
    this.child = child;
    await waitFor(
      "redis-server to listen",
      async () => {
        if (!child.running) throw new Error(`redis-server exited:\n${await child.tail()}`);
        return (await portAnswers(this.port)) ? true : undefined;
      },
      20_000,
    );
  }

  /** SIGTERM: Redis flushes its append-only file and exits. */
  async stop(): Promise<void> {
    await this.child?.stop("SIGTERM");
  }

  async kill9(): Promise<void> {
    await this.child?.kill9();
  }

  async destroy(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}
