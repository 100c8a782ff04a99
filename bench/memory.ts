import { spawn, type ChildProcess } from "node:child_process";
import { openSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Redis } from "ioredis";
import { createDb, sql } from "@galaxy/db";
import { connectTestBus, createTestEnv, freePort } from "@galaxy/testkit";
import { RATE_TIERS_KEY } from "../services/gateway/src/http/rate-limit";
import { GalaxyClient } from "./galaxy-client";
import { createBenchWorld } from "./setup";

// `node --import tsx bench/memory.ts`: the resident memory of each compiled service
// (`dist/<svc>/main.js`, `make build`) run as its own process, as `make up` runs them, after a
// sustained load: MEMORY_EXECUTIONS executions (default 1,000) from 16 clients, then
// MEMORY_READS reads of one execution (default 4,000, under the enterprise tier's 6,000 requests a minute per credential with the executions) from 16 clients. MEMORY_DIST names another
// build; MEMORY_NODE_OPTIONS adds Node flags to every service. Prints VmRSS and VmHWM (peak).

const ROOT = resolve(import.meta.dirname, "..");
const DIST = resolve(ROOT, process.env.MEMORY_DIST ?? "dist");
const EXECUTIONS = Number(process.env.MEMORY_EXECUTIONS ?? 1_000);
const READS = Number(process.env.MEMORY_READS ?? 4_000);
const CLIENTS = 16;
const NODE_FLAGS = (process.env.MEMORY_NODE_OPTIONS ?? "").split(" ").filter(Boolean);
const SERVICES = [
  { dir: "identity", port: "IDENTITY_PORT" },
  { dir: "agent-registry", port: "AGENT_REGISTRY_PORT" },
  { dir: "execution-worker", port: "EXECUTION_WORKER_PORT" },
  { dir: "audit", port: "AUDIT_PORT" },
  { dir: "gateway", port: "GATEWAY_OPS_PORT" },
] as const;
const log = (line: string) => console.log(line);
const sleep = (ms: number) => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));

function memoryOf(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  return { rss: kib("VmRSS") / 1024, hwm: kib("VmHWM") / 1024 };
}

/** V8's heap as the service's own metrics report it (prom-client's default metrics). */
async function heapOf(opsPort: number): Promise<string> {
  const text = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  const mib = (name: string) => (Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, "m").exec(text)?.[1] ?? Number.NaN) / 1048576).toFixed(0);
  return `${mib("nodejs_heap_size_used_bytes")} / ${mib("nodejs_heap_size_total_bytes")} MiB`;
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(200);
  }
  throw new Error(`${what}: not after ${timeoutMs} ms`);
}

const answers = (url: string) => async () => (await fetch(url, { signal: AbortSignal.timeout(2_000) })).status === 200;

/** Runs `count` calls of `task` with `clients` at a time. */
async function pool(count: number, clients: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (next < count) await task(next++);
  }));
}

async function main(): Promise<void> {
  const world = await createBenchWorld(log);
  const env = await createTestEnv({ databaseUrl: world.databaseUrl, natsUrl: world.natsUrl, redisUrl: world.redisUrl, template: world.database });
  const children: Array<{ name: string; child: ChildProcess; opsPort?: number }> = [];
  let workspaceId: string | undefined;
  try {
    const provisioner = await connectTestBus(env, "audit");
    await provisioner.close();
    const devPort = await freePort();
    const shared: NodeJS.ProcessEnv = {
      ...process.env, DATABASE_URL: env.databaseUrl, NATS_URL: env.natsUrl, REDIS_URL: env.redisUrl, GALAXY_BUS_PREFIX: env.busPrefix,
      GALAXY_MASTER_KEY: env.masterKey, LOG_LEVEL: "warn", LOG_FORMAT: "json", OPENAI_BASE_URL: `http://127.0.0.1:${devPort}/v1`,
    };
    delete shared.OTEL_EXPORTER_OTLP_ENDPOINT;
    const start = (name: string, extra: NodeJS.ProcessEnv, opsPort?: number) => {
      const out = openSync(join("/tmp", `galaxy-memory-${env.busPrefix}-${name}.log`), "a");
      const child = spawn(process.execPath, [...NODE_FLAGS, join(DIST, name, "main.js")], { cwd: ROOT, env: { ...shared, ...extra }, stdio: ["ignore", out, out] });
      children.push({ name, child, ...(opsPort ? { opsPort } : {}) });
    };
    start("dev-model", { DEV_MODEL_PORT: String(devPort) });
    await waitUntil("dev model", async () => (await fetch(`http://127.0.0.1:${devPort}/health`)).status === 200, 30_000);
    let gatewayPort = 0;
    for (const service of SERVICES) {
      const opsPort = await freePort();
      const extra: NodeJS.ProcessEnv = { [service.port]: String(opsPort) };
      if (service.dir === "gateway") extra.GATEWAY_PORT = String((gatewayPort = await freePort()));
      start(service.dir, extra, opsPort);
      await waitUntil(`${service.dir} ready`, answers(`http://127.0.0.1:${opsPort}/health/ready`), 90_000);
    }
    const started = Object.fromEntries(children.map(({ name, child }) => [name, memoryOf(child.pid ?? 0).rss]));

    const client = await GalaxyClient.signUp(`http://127.0.0.1:${gatewayPort}`);
    workspaceId = client.workspaceId;
    const agentId = await client.createActiveAgent();
    const superuser = createDb<unknown>({ connectionString: env.databaseUrl, max: 1 });
    await sql`insert into execution.workspace_tiers (workspace_id, tier) values (${workspaceId}, 'enterprise')`.execute(superuser);
    await superuser.destroy();
    const redis = new Redis(env.redisUrl);
    await redis.hset(RATE_TIERS_KEY, workspaceId, "enterprise");
    redis.disconnect();

    log(`load: ${EXECUTIONS} executions, then ${READS} reads, ${CLIENTS} clients`);
    const ids: string[] = [];
    await pool(EXECUTIONS, CLIENTS, async (i) => void ids.push(await client.startExecution(agentId, { message: `memory ${i}` })));
    const base = `http://127.0.0.1:${gatewayPort}/api/executions`;
    const headers = { authorization: client.authorization };
    const open = async (status: string) => (await (await fetch(`${base}?status=${status}&limit=1`, { headers })).json()) as { data: unknown[] };
    await waitUntil("every execution finished", async () => (await open("queued")).data.length === 0 && (await open("running")).data.length === 0, 300_000);
    await pool(READS, CLIENTS, async (i) => {
      const response = await fetch(`${base}/${ids[i % ids.length] ?? ""}`, { headers });
      if (response.status !== 200) throw new Error(`read answered ${response.status}`);
      await response.arrayBuffer();
    });
    await sleep(2_000);

    log(`\n${DIST}${NODE_FLAGS.length ? ` with ${NODE_FLAGS.join(" ")}` : ""}\n`);
    log("| service | RSS at ready | RSS after the load | peak RSS (VmHWM) | V8 heap used / total |");
    log("| --- | --- | --- | --- | --- |");
    for (const { name, child, opsPort } of children) {
      const now = memoryOf(child.pid ?? 0);
      log(`| ${name} (pid ${child.pid ?? "?"}) | ${(started[name] ?? 0).toFixed(0)} MiB | ${now.rss.toFixed(0)} MiB | ${now.hwm.toFixed(0)} MiB | ${opsPort ? await heapOf(opsPort) : "–"} |`);
    }
    // MEMORY_HOLD_S keeps the services up a while after the table, e.g. to take a heap snapshot.
    await sleep(Number(process.env.MEMORY_HOLD_S ?? 0) * 1000);
  } finally {
    for (const { child } of children.reverse()) child.kill("SIGTERM");
    const exited = ({ child }: { child: ChildProcess }) => (child.exitCode !== null ? undefined : new Promise((done) => child.once("exit", done)));
    await Promise.race([Promise.all(children.map(exited)), sleep(30_000)]);
    for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    if (workspaceId) {
      const redis = new Redis(env.redisUrl);
      await redis.hdel(RATE_TIERS_KEY, workspaceId);
      redis.disconnect();
    }
    await env.cleanup();
    await world.teardown();
  }
}

await main();
