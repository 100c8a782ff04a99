import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { freePort } from "@galaxy/testkit";
import { compiledProgramArgs, withProgramEnv } from "../../../scripts/program-args";
import { Child, waitFor } from "./child";
import type { NatsUser } from "./nats";

export const ROOT = resolve(import.meta.dirname, "../../..");

/** Galaxy's five services, by their directory under `services/` (also their NATS user). */
export const SERVICES = ["identity", "agent-registry", "execution-worker", "audit", "gateway"] as const;
export type ServiceName = (typeof SERVICES)[number];

/** The variable each service reads its HTTP (gateway) or ops port from. */
const PORT_VARIABLE: Record<ServiceName, string> = {
  gateway: "GATEWAY_PORT",
  identity: "IDENTITY_PORT",
  "agent-registry": "AGENT_REGISTRY_PORT",
  "execution-worker": "EXECUTION_WORKER_PORT",
  audit: "AUDIT_PORT",
};

/**
 * How a service or the dev model server is started, as `make up` starts it: the built
 * `dist/<dir>/main.js` once a build has made it, with the same `node` arguments, else the TypeScript entry through tsx.
 * `FAULT_RUN_FROM=source` forces the latter. `BENCH_CPU_PROF=<dir>` writes each process's CPU
 * profile there when it stops (`node --cpu-prof`); `BENCH_NODE_ARGS_<PROGRAM>` (e.g.
 * `BENCH_NODE_ARGS_AUDIT="--trace-gc"`) adds `node` arguments to every instance of one program,
 * after its own and before its entry point, so they win (docs/benchmarks.md, "How to run").
 */
export function serviceCommand(dir: ServiceName | "dev-model"): { command: string; args: string[] } {
  const profile = process.env.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`, `--cpu-prof-name=${dir}.${Date.now()}.cpuprofile`] : [];
  const extra = extraNodeArgs(dir);
  const built = join(ROOT, "dist", dir, "main.js");
  if (process.env.FAULT_RUN_FROM !== "source" && existsSync(built)) {
    return { command: process.execPath, args: [...profile, ...beforeEntry(compiledProgramArgs(join(ROOT, "dist"), dir), extra)] };
  }
  return { command: process.execPath, args: [...profile, "--import", "tsx", ...extra, join(ROOT, "services", dir, "src", "main.ts")] };
}

/** A program's `node` arguments, which end with its entry point, with `extra` just before it. */
export function beforeEntry(programArgs: readonly string[], extra: readonly string[]): string[] {
  return [...programArgs.slice(0, -1), ...extra, ...programArgs.slice(-1)];
}

/** `BENCH_NODE_ARGS_<PROGRAM>`, split at spaces: `<PROGRAM>` is the directory's name in capitals, `-` as `_`. */
export function extraNodeArgs(dir: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const value = env[`BENCH_NODE_ARGS_${dir.toUpperCase().replaceAll("-", "_")}`]?.trim();
  return value ? value.split(/\s+/) : [];
}

export interface EngineEndpoints {
  databaseUrl: string;
  natsUrl: string;
  redisUrl: string;
  natsPassword(user: NatsUser): string;
}

/** One running copy of a service: its name is the service's, or e.g. `execution-worker-2`. */
interface Instance {
  service: ServiceName;
  port: number;
  child: Child;
  /** Set while the suite itself stops or kills it, so its exit is not counted as a crash. */
  expectingExit: boolean;
}

/**
 * Galaxy's services as separate processes on the suite's engines, each with its own port,
 * its own NATS user and a log file in `logDir`.
 */
export class GalaxyProcesses {
  private readonly instances = new Map<string, Instance>();
  /** Exits nobody asked for: `name: code/signal`. */
  readonly crashes: string[] = [];

  /**
   * `shared` goes to every instance under the variables this class sets (engines, NATS user,
   * port); `overrides` over them (e.g. a bus prefix, or no NATS user on an engine without auth).
   */
  constructor(
    private readonly engines: EngineEndpoints,
    private readonly logDir: string,
    private readonly shared: Record<string, string>,
    private readonly overrides: Record<string, string> = {},
  ) {}

  /** Starts `name` (a service, or a second instance of one), and waits until it answers ready. */
  async start(name: string, service: ServiceName, extraEnv: Record<string, string> = {}): Promise<void> {
    const known = this.instances.get(name);
    const port = known?.port ?? (await freePort());
    const { command, args } = serviceCommand(service);
    const env: NodeJS.ProcessEnv = {
      ...withProgramEnv(process.env),
      ...this.shared,
      DATABASE_URL: this.engines.databaseUrl,
      NATS_URL: this.engines.natsUrl,
      NATS_USER: service,
      NATS_PASSWORD: this.engines.natsPassword(service),
      REDIS_URL: this.engines.redisUrl,
      GALAXY_BUS_PREFIX: "",
      LOG_FORMAT: "json",
      LOG_LEVEL: process.env.FAULT_LOG_LEVEL ?? "info",
      [PORT_VARIABLE[service]]: String(port),
      ...this.overrides,
      ...extraEnv,
    };
    const child = new Child(name, command, args, join(this.logDir, `${name}.log`), { cwd: ROOT, env });
    const instance: Instance = { service, port, child, expectingExit: false };
    this.instances.set(name, instance);
    void child.exited.then(({ code, signal }) => {
      if (!instance.expectingExit) this.crashes.push(`${name}: exit ${code ?? signal}`);
    });
    await this.waitReady([name], 90_000);
  }

  /** kill -9 of one instance. */
  async kill9(name: string): Promise<void> {
    const instance = this.get(name);
    instance.expectingExit = true;
    await instance.child.kill9();
  }

  /** A graceful stop (SIGTERM), as at the end of a run. */
  async stop(name: string): Promise<void> {
    const instance = this.get(name);
    instance.expectingExit = true;
    await instance.child.stop("SIGTERM", 40_000);
  }

  async stopAll(): Promise<void> {
    // The gateway first, so nothing new comes in while the others finish.
    const names = [...this.instances.keys()].sort((a, b) => Number(b.startsWith("gateway")) - Number(a.startsWith("gateway")));
    for (const name of names) await this.stop(name);
  }

  /** Every instance, but those the suite stopped or killed and did not start again. */
  names(): string[] {
    return [...this.instances.entries()].filter(([, instance]) => !instance.expectingExit).map(([name]) => name);
  }

  /** The process id of a running instance (for its CPU time and memory in /proc). */
  pid(name: string): number | undefined {
    return this.get(name).child.process.pid;
  }

  gatewayUrl(): string {
    return `http://127.0.0.1:${this.get("gateway").port}`;
  }

  /** Whether `name` answers 200 on `GET /health/ready`. */
  async isReady(name: string): Promise<boolean> {
    const { port } = this.get(name);
    return fetch(`http://127.0.0.1:${port}/health/ready`, { signal: AbortSignal.timeout(2_000) })
      .then((response) => response.status === 200)
      .catch(() => false);
  }

  /** Waits until every one of `names` (default all) answers ready; returns how long it took. */
  async waitReady(names: readonly string[] = this.names(), timeoutMs = 60_000): Promise<number> {
    const started = Date.now();
    await waitFor(
      `${names.join(", ")} to be ready`,
      async () => {
        for (const name of names) {
          const { child } = this.get(name);
          if (!child.running) throw new Error(`${name} exited:\n${await child.tail()}`);
        }
        const ready = await Promise.all(names.map((name) => this.isReady(name)));
        return ready.every(Boolean) ? true : undefined;
      },
      timeoutMs,
      200,
    );
    return Date.now() - started;
  }

  /** The last log lines of every instance, for a failure message. */
  async tails(lines = 15): Promise<string> {
    const parts: string[] = [];
    for (const [name, { child }] of this.instances) parts.push(`=== ${name}\n${await child.tail(lines)}`);
    return parts.join("\n");
  }

  private get(name: string): Instance {
    const instance = this.instances.get(name);
    if (!instance) throw new Error(`no instance ${name}`);
    return instance;
  }
}

/** The dev model server as a process of its own, on a free port. */
export async function startDevModelProcess(logDir: string): Promise<{ child: Child; port: number }> {
  const port = await freePort();
  const { command, args } = serviceCommand("dev-model");
  const child = new Child("dev-model", command, args, join(logDir, "dev-model.log"), { cwd: ROOT, env: { ...process.env, DEV_MODEL_PORT: String(port), DEV_MODEL_HOST: "127.0.0.1" } });
  await waitFor(
    "the dev model server to answer",
    async () => {
      if (!child.running) throw new Error(`dev-model exited:\n${await child.tail()}`);
      const ok = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok).catch(() => false);
      return ok ? true : undefined;
    },
    60_000,
    200,
  );
  return { child, port };
}
