import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDb, type Kysely } from "@galaxy/db";
import { controlDevModel } from "@galaxy/dev-model/testing";
import { Child } from "./child";
import { ModelCallCounter } from "./model-counter";
import { NatsServer } from "./nats";
import { PostgresCluster } from "./postgres";
import { RedisServer } from "./redis";
import { GalaxyProcesses, ROOT, SERVICES, startDevModelProcess } from "./services";

export interface WorldOptions {
  /** Execution-worker instances (default 1; the second is `execution-worker-2`). */
  workers?: number;
  /** Extra environment of every worker instance. */
  workerEnv?: Record<string, string>;
}

/**
 * An isolated Galaxy: its own Postgres cluster, nats-server (production configuration) and
 * Redis, set up the way `make setup` does, the dev model server behind a call counter, and the
 * five services as processes. Logs go to `logDir`, kept when a run fails.
 */
export class World {
  private constructor(
    readonly logDir: string,
    readonly pg: PostgresCluster,
    readonly nats: NatsServer,
    readonly redis: RedisServer,
    readonly devModel: Child,
    readonly devModelPort: number,
    readonly counter: ModelCallCounter,
    readonly galaxy: GalaxyProcesses,
    /** Superuser connection to the `galaxy` database, for the suite's own checks. */
    readonly db: Kysely<unknown>,
  ) {}

  static async start(name: string, options: WorldOptions = {}): Promise<World> {
    const logDir = await mkdtemp(join(tmpdir(), `galaxy-fault-${name}-`));
    const [pg, nats, redis] = await Promise.all([PostgresCluster.create(), NatsServer.create(), RedisServer.create()]);
    await setup(logDir, pg, nats);
    const devModel = await startDevModelProcess(logDir);
    const counter = new ModelCallCounter(devModel.port);
    await counter.listen();
    const galaxy = new GalaxyProcesses({ databaseUrl: pg.url, natsUrl: nats.url, redisUrl: redis.url, natsPassword: (user) => nats.passwords[user] }, logDir, {
      GALAXY_MASTER_KEY: randomBytes(32).toString("base64"),
      OPENAI_BASE_URL: `${counter.baseUrl}/v1`,
      ANTHROPIC_BASE_URL: counter.baseUrl,
      // The load is hundreds of deliveries to one trigger in a minute: above the default 600.
      WEBHOOK_RATE_LIMIT: "100000",
      AUDIT_EXPORT_DIR: join(logDir, "audit-exports"),
    });
    // Started one at a time: on two cores, six tsx processes compiling at once take longer.
    for (const service of SERVICES) {
      if (service === "execution-worker") {
        for (let i = 1; i <= (options.workers ?? 1); i++) await galaxy.start(i === 1 ? service : `${service}-${i}`, service, options.workerEnv);
      } else {
        await galaxy.start(service, service);
      }
    }
    const db = createDb<unknown>({ connectionString: pg.url, max: 2, applicationName: "galaxy-fault-suite" });
    return new World(logDir, pg, nats, redis, devModel.child, devModel.port, counter, galaxy, db);
  }

  get gatewayUrl(): string {
    return this.galaxy.gatewayUrl();
  }

  /** Sets the dev model server's switches (`latencyMs`, `reset`) over its `/_control`. */
  async modelControl(update: { latencyMs?: number; reset?: true }): Promise<void> {
    await controlDevModel(`http://127.0.0.1:${this.devModelPort}`, update);
  }

  /** Stops everything; the logs are removed unless `keepLogs`. */
  async stop(keepLogs: boolean): Promise<void> {
    await this.galaxy.stopAll().catch(() => undefined);
    await this.db.destroy().catch(() => undefined);
    await this.counter.close();
    await this.devModel.stop();
    await Promise.all([this.pg.destroy(), this.nats.destroy(), this.redis.destroy()]);
    if (keepLogs) console.log(`fault suite: logs kept in ${this.logDir}`);
    else await rm(this.logDir, { recursive: true, force: true });
  }
}

/** `scripts/setup.ts` as `make setup` runs it: database, roles, schemas, migrations, streams (as the CLI's NATS user). */
async function setup(logDir: string, pg: PostgresCluster, nats: NatsServer): Promise<void> {
  const child = new Child("setup", process.execPath, ["--import", "tsx", join(ROOT, "scripts/setup.ts")], join(logDir, "setup.log"), {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: pg.url, NATS_URL: nats.url, NATS_USER: "galaxy-cli", NATS_PASSWORD: nats.passwords["galaxy-cli"], GALAXY_BUS_PREFIX: "", LOG_FORMAT: "json" },
  });
  const { code } = await child.exited;
  if (code !== 0) throw new Error(`setup failed (${code}):\n${await child.tail()}`);
}
