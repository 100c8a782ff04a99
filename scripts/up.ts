import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { resolve } from "node:path";

/**
 * `make up`: sets Galaxy up (database, roles, schemas, migrations, streams), then runs the dev
 * model server and the five services as separate processes with prefixed logs. Ctrl-C or
 * SIGTERM stops them all gracefully.
 */
const root = resolve(import.meta.dirname, "..");
const env: NodeJS.ProcessEnv = { ...process.env, GALAXY_MASTER_KEY: masterKey(), LOG_FORMAT: process.env.LOG_FORMAT ?? "pretty" };
const gatewayPort = env.GATEWAY_PORT ?? "8080";

const processes: Array<{ name: string; entry: string; color: number; env?: NodeJS.ProcessEnv }> = [
  { name: "identity", entry: "services/identity/src/main.ts", color: 35 },
  { name: "registry", entry: "services/agent-registry/src/main.ts", color: 34 },
  { name: "worker", entry: "services/execution-worker/src/main.ts", color: 33 },
  { name: "audit", entry: "services/audit/src/main.ts", color: 36 },
  { name: "gateway", entry: "services/gateway/src/main.ts", color: 32 },
];
if (!env.OPENAI_API_KEY) {
  const devModelPort = env.DEV_MODEL_PORT ?? "8089";
  processes.unshift({ name: "dev-model", entry: "services/dev-model/src/main.ts", color: 90 });
  env.OPENAI_BASE_URL ??= `http://127.0.0.1:${devModelPort}/v1`;
  env.ANTHROPIC_BASE_URL ??= `http://127.0.0.1:${devModelPort}`;
  if (!env.GOOGLE_API_KEY) env.GOOGLE_BASE_URL ??= `http://127.0.0.1:${devModelPort}`;
}

function masterKey(): string {
  if (process.env.GALAXY_MASTER_KEY) return process.env.GALAXY_MASTER_KEY;
  const file = resolve(root, ".galaxy/master.key");
  if (!existsSync(file)) {
    mkdirSync(resolve(root, ".galaxy"), { recursive: true });
    writeFileSync(file, `${randomBytes(32).toString("base64")}\n`, { mode: 0o600 });
    console.log("generated .galaxy/master.key (git-ignored): it encrypts secrets at rest, keep it");
  }
  return readFileSync(file, "utf8").trim();
}

function run(name: string, args: string[], color: number, extraEnv: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", ...args], { cwd: root, env: { ...env, ...extraEnv }, stdio: ["ignore", "pipe", "pipe"] });
  const prefix = `\x1b[${color}m${name.padEnd(9)}|\x1b[0m `;
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on("line", (line) => process.stdout.write(`${prefix}${line}\n`));
  }
  return child;
}

async function waitForExit(child: ChildProcess): Promise<number> {
  if (child.exitCode !== null) return child.exitCode;
  if (child.signalCode !== null) return 1;
  return new Promise((resolveExit) => child.once("exit", (code) => resolveExit(code ?? 1)));
}

function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

const setup = run("setup", ["scripts/setup.ts"], 37);
if ((await waitForExit(setup)) !== 0) {
  console.error("setup failed: is PostgreSQL running on 127.0.0.1:5432 and NATS on 4222? (see README)");
  process.exit(1);
}

const children = processes.map((p) => ({ name: p.name, child: run(p.name, [p.entry], p.color) }));
let stopping = false;

async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    console.log("stopping Galaxy…");
    // The gateway first, so no new work comes in while the others finish theirs.
    const gateway = children.find((c) => c.name === "gateway");
    if (gateway && running(gateway.child)) {
      gateway.child.kill("SIGTERM");
      await waitForExit(gateway.child);
    }
    for (const { child } of children) if (running(child)) child.kill("SIGTERM");
    const killer = setTimeout(() => children.forEach(({ child }) => running(child) && child.kill("SIGKILL")), 20_000);
    await Promise.all(children.map(({ child }) => waitForExit(child)));
    clearTimeout(killer);
    console.log("Galaxy stopped");
  }
  process.exit(code);
}

process.on("SIGINT", () => void stopAll(0));
process.on("SIGTERM", () => void stopAll(0));
for (const { name, child } of children) {
  child.once("exit", (code) => {
    if (stopping) return;
    console.error(`${name} exited with code ${code}; stopping everything`);
    void stopAll(1);
  });
}

// Up means every service answers ready, not only the gateway.
const readiness = [gatewayPort, env.IDENTITY_PORT ?? "8081", env.AGENT_REGISTRY_PORT ?? "8082", env.EXECUTION_WORKER_PORT ?? "8083", env.AUDIT_PORT ?? "8084"].map(
  (port) => `http://127.0.0.1:${port}/health/ready`,
);
const started = Date.now();
for (;;) {
  if (stopping) break;
  const answers = await Promise.all(readiness.map((url) => fetch(url).then((r) => r.ok).catch(() => false)));
  const ready = answers.every(Boolean);
  if (ready) {
    console.log(`\n  Galaxy is up: http://127.0.0.1:${gatewayPort}  (API docs: /docs)  ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    break;
  }
  await new Promise((r) => setTimeout(r, 250));
}
