import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort } from "@galaxy/testkit";
import { Child, portAnswers, waitFor } from "./child";

const NATS_SERVER = "/usr/sbin/nats-server";
const CONFIG = resolve(import.meta.dirname, "../../../infra/nats/nats-server.conf");

/** The NATS user of each process, and the variable the server reads its password from (infra/nats/README.md). */
export const NATS_USERS = {
  gateway: "NATS_GATEWAY_PASSWORD",
  identity: "NATS_IDENTITY_PASSWORD",
  "agent-registry": "NATS_AGENT_REGISTRY_PASSWORD",
  "execution-worker": "NATS_EXECUTION_WORKER_PASSWORD",
  audit: "NATS_AUDIT_PASSWORD",
  "galaxy-cli": "NATS_GALAXY_CLI_PASSWORD",
} as const;
export type NatsUser = keyof typeof NATS_USERS;

/**
 * A nats-server of the suite's own with the production configuration (JetStream, one user per
 * service with its own permissions), its own port and store directory.
 */
export class NatsServer {
  private child: Child | undefined;
  /** One password per user: a letter, then hex (the server parses the value as config). */
  readonly passwords: Record<NatsUser, string>;

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly configPath: string,
  ) {
    this.passwords = Object.fromEntries(Object.keys(NATS_USERS).map((user) => [user, `p${randomBytes(24).toString("hex")}`])) as Record<NatsUser, string>;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  static async create(): Promise<NatsServer> {
    const dir = await mkdtemp(join(tmpdir(), "galaxy-fault-nats-"));
    const original = await readFile(CONFIG, "utf8");
    // The server refuses `-sd` beside the file's `store_dir`: point the copy's at our directory.
    const copy = original.replace(/^(\s*)store_dir:.*$/m, `$1store_dir: ${JSON.stringify(join(dir, "store"))}`);
    if (copy === original) throw new Error("infra/nats/nats-server.conf has no store_dir line");
    const configPath = join(dir, "nats-server.conf");
    await writeFile(configPath, copy);
    const server = new NatsServer(dir, await freePort(), configPath);
    await server.start();
    return server;
  }

  async start(): Promise<void> {
    const env = { ...process.env, ...Object.fromEntries(Object.entries(NATS_USERS).map(([user, variable]) => [variable, this.passwords[user as NatsUser]])) };
    // -m 0: no monitoring port, so nothing collides with another run's 8222.
    const child = new Child("nats-server", NATS_SERVER, ["-c", this.configPath, "-a", "127.0.0.1", "-p", String(this.port), "-m", "0"], join(this.dir, "server.log"), { env });
    this.child = child;
    await waitFor(
      "nats-server to listen",
      async () => {
        if (!child.running) throw new Error(`nats-server exited:\n${await child.tail()}`);
        return (await portAnswers(this.port)) ? true : undefined;
      },
      20_000,
    );
  }

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
