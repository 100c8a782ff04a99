import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { createLogger } from "@galaxy/observability";
import { buildAll, NO_CONSOLE_BUILD, ROOT } from "./build/bundle";
import { compiledProgramArgs, withProgramEnv } from "./program-args";
import { Supervisor, type Program } from "./supervisor";

/**
 * `make up`: builds every service (`dist/`), sets Galaxy up (database, roles, schemas,
 * migrations, streams), then runs the dev model server and the five services as separate
 * processes with prefixed logs, starting again any that exits. Ctrl-C or SIGTERM stops them
 * all gracefully, the gateway first.
 */
const env: NodeJS.ProcessEnv = { ...withProgramEnv(process.env), GALAXY_MASTER_KEY: masterKey(), LOG_FORMAT: process.env.LOG_FORMAT ?? "pretty" };
const logger = createLogger({ service: "up", level: env.LOG_LEVEL, pretty: env.LOG_FORMAT === "pretty" });
const gatewayPort = env.GATEWAY_PORT ?? "8080";

function masterKey(): string {
  if (process.env.GALAXY_MASTER_KEY) return process.env.GALAXY_MASTER_KEY;
  const file = resolve(ROOT, ".galaxy/master.key");
  if (!existsSync(file)) {
    mkdirSync(resolve(ROOT, ".galaxy"), { recursive: true });
    writeFileSync(file, `${randomBytes(32).toString("base64")}\n`, { mode: 0o600 });
    console.log("generated .galaxy/master.key (git-ignored): it encrypts secrets at rest, keep it");
  }
  return readFileSync(file, "utf8").trim();
}

function compiled(name: string): string[] {
  return compiledProgramArgs(resolve(ROOT, "dist"), name);
}

const programs: Program[] = [
  { name: "identity", args: compiled("identity"), color: 35 },
  { name: "registry", args: compiled("agent-registry"), color: 34 },
  { name: "worker", args: compiled("execution-worker"), color: 33 },
  { name: "audit", args: compiled("audit"), color: 36 },
  { name: "gateway", args: compiled("gateway"), color: 32 },
];
if (!env.OPENAI_API_KEY) {
  const devModelPort = env.DEV_MODEL_PORT ?? "8089";
  programs.unshift({ name: "dev-model", args: compiled("dev-model"), color: 90 });
  env.OPENAI_BASE_URL ??= `http://127.0.0.1:${devModelPort}/v1`;
  env.ANTHROPIC_BASE_URL ??= `http://127.0.0.1:${devModelPort}`;
  if (!env.GOOGLE_API_KEY) env.GOOGLE_BASE_URL ??= `http://127.0.0.1:${devModelPort}`;
}

const built = await buildAll();
logger.info({ kib: Math.round(built.bytes / 1024) }, "built dist/");
if (!built.console) logger.warn(NO_CONSOLE_BUILD);

const setup = spawn(process.execPath, compiled("setup"), { cwd: ROOT, env, stdio: "inherit" });
const setupCode = await new Promise<number | null>((resolveExit) => setup.once("exit", resolveExit));
if (setupCode !== 0) {
  logger.fatal("setup failed: is PostgreSQL running on 127.0.0.1:5432 and NATS on 4222? (see README)");
  process.exit(1);
}

const supervisor = new Supervisor({ programs, cwd: ROOT, env, logger, stopFirst: ["gateway"] });
supervisor.start();
let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log("stopping Galaxy…");
  await supervisor.stop();
  console.log("Galaxy stopped");
  process.exit(0);
}
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());

// Up means every service answers ready, not only the gateway.
const readiness = [gatewayPort, env.IDENTITY_PORT ?? "8081", env.AGENT_REGISTRY_PORT ?? "8082", env.EXECUTION_WORKER_PORT ?? "8083", env.AUDIT_PORT ?? "8084"].map(
  (port) => `http://127.0.0.1:${port}/health/ready`,
);
const started = Date.now();
while (!stopping) {
  const answers = await Promise.all(readiness.map((url) => fetch(url).then((r) => r.ok).catch(() => false)));
  if (answers.every(Boolean)) {
    console.log(`\n  Galaxy is up: http://127.0.0.1:${gatewayPort}  (API docs: /docs)  ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    break;
  }
  await new Promise((r) => setTimeout(r, 250));
}
