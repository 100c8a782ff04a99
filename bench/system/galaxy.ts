import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@galaxy/testkit";
import { buildAll } from "../../scripts/build/bundle";
import { Child } from "../../test/fault/support/child";
import { GalaxyProcesses, ROOT, SERVICES, startDevModelProcess, type ServiceName } from "../../test/fault/support/services";

/** Galaxy as `make up` runs it, on the bench's database, bus prefix and Redis database. */
export interface GalaxySystem {
  gatewayUrl: string;
  /** The dev model server the worker calls (zero latency), for the baselines too. */
  modelUrl: string;
  busPrefix: string;
  logDir: string;
  /** Process ids of the five services and the dev model server, by name. */
  pids(): Map<string, number>;
  /** Stops every process (SIGKILL: the bench database, streams and keys are removed next); logs kept when `keepLogs` or `BENCH_KEEP_LOGS=1`. */
  stop(keepLogs: boolean): Promise<void>;
}

export interface SystemEngines {
  /** Superuser URL of the bench database (`galaxy_bench_<id>`), already migrated. */
  databaseUrl: string;
  natsUrl: string;
  /** Redis URL with the run's own logical database. */
  redisUrl: string;
}

/**
 * `make build`, then `dist/setup/main.js` (roles, migrations, streams under `busPrefix`), the
 * dev model server and the five compiled services as separate processes, one at a time, each
 * as `make up` starts it (test/fault/support/services.ts: `node dist/<service>/main.js`), on
 * the machine's engines. Their output goes to files in a directory of the run's own.
 */
export async function startGalaxySystem(engines: SystemEngines, busPrefix: string, log: (line: string) => void): Promise<GalaxySystem> {
  const built = await buildAll();
  log(`  built dist/ (${Math.round(built.bytes / 1024)} KiB)`);
  const logDir = await mkdtemp(join(tmpdir(), "galaxy-bench-"));
  const children: Child[] = [];
  let processes: GalaxyProcesses | undefined;
  const stop = async (keepLogs: boolean) => {
    // Profiled processes (BENCH_CPU_PROF) write their profiles only when they stop gracefully.
    const profiling = Boolean(process.env.BENCH_CPU_PROF);
    if (processes && profiling) await processes.stopAll().catch(() => undefined);
    if (processes) for (const name of processes.names()) await processes.kill9(name).catch(() => undefined);
    for (const child of children) await (profiling ? child.stop("SIGTERM", 10_000) : child.kill9());
    if (keepLogs || process.env.BENCH_KEEP_LOGS === "1") log(`  Galaxy's logs kept in ${logDir}`);
    else await rm(logDir, { recursive: true, force: true });
  };
  try {
    const common = { NATS_URL: engines.natsUrl, GALAXY_BUS_PREFIX: busPrefix, LOG_FORMAT: "json", NATS_USER: "", NATS_PASSWORD: "" };
    const setup = new Child("setup", process.execPath, [join(ROOT, "dist/setup/main.js")], join(logDir, "setup.log"), { cwd: ROOT, env: { ...process.env, ...common, DATABASE_URL: engines.databaseUrl } });
    children.push(setup);
    const { code } = await setup.exited;
    if (code !== 0) throw new Error(`setup failed (${code}):\n${await setup.tail()}`);

    const devModel = await startDevModelProcess(logDir);
    children.push(devModel.child);
    const modelUrl = `http://127.0.0.1:${devModel.port}`;
    processes = new GalaxyProcesses(
      { databaseUrl: engines.databaseUrl, natsUrl: engines.natsUrl, redisUrl: engines.redisUrl, natsPassword: () => "" },
      logDir,
      {
        GALAXY_MASTER_KEY: randomBytes(32).toString("base64"),
        OPENAI_BASE_URL: `${modelUrl}/v1`,
        ANTHROPIC_BASE_URL: modelUrl,
        GOOGLE_BASE_URL: modelUrl,
        // The benchmarks send tens of thousands of deliveries to a trigger in a minute (the default allows 600).
        WEBHOOK_RATE_LIMIT: "100000000",
        AUDIT_EXPORT_DIR: join(logDir, "audit-exports"),
      },
      // The machine's NATS has no users; the level is `make up`'s unless BENCH_LOG_LEVEL says otherwise.
      { ...common, LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "info" },
    );
    // BENCH_WORKERS=2 runs a second execution-worker (`execution-worker-2`), as a deployment adds instances.
    const workers = Number(process.env.BENCH_WORKERS ?? 1);
    if (!Number.isInteger(workers) || workers < 1 || workers > 4) throw new Error(`BENCH_WORKERS=${process.env.BENCH_WORKERS}: 1 to 4`);
    for (const service of SERVICES) {
      if (service === "execution-worker") {
        for (let i = 1; i <= workers; i++) await processes.start(i === 1 ? service : `${service}-${i}`, service);
      } else {
        await processes.start(service, service, service === "gateway" ? { GATEWAY_OPS_PORT: String(await freePort()) } : {});
      }
    }
    const running = processes;
    return {
      gatewayUrl: running.gatewayUrl(),
      modelUrl,
      busPrefix,
      logDir,
      pids: () => {
        const pids = new Map<string, number>();
        for (const name of running.names()) {
          const pid = running.pid(name);
          if (pid !== undefined) pids.set(name, pid);
        }
        if (devModel.child.process.pid !== undefined) pids.set("dev-model", devModel.child.process.pid);
        return pids;
      },
      stop,
    };
  } catch (error) {
    const tails = processes ? await processes.tails(20) : "";
    await stop(true);
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${tails}`);
  }
}

export type { ServiceName };
