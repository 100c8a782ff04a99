import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import type { Bus } from "@galaxy/bus";
import { connectTestBus, createTestEnv, freePort, type TestEnv } from "@galaxy/testkit";

// The audit service's real entry point stands in for every bus service: they all run
// through runBusService.
const ENTRY = resolve(import.meta.dirname, "../../../services/audit/src/main.ts");

let env: TestEnv;
let bus: Bus;

beforeAll(async () => {
  env = await createTestEnv(inject("engines"));
  bus = await connectTestBus(env, "test");
});

afterAll(async () => {
  await bus?.close();
  await env?.cleanup();
});

async function startProcess(): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  const port = await freePort();
  let output = "";
  const child = spawn(process.execPath, ["--import", "tsx", ENTRY], {
    env: { ...process.env, DATABASE_URL: env.databaseUrl, NATS_URL: env.natsUrl, GALAXY_BUS_PREFIX: env.busPrefix, AUDIT_PORT: String(port), LOG_LEVEL: "info", LOG_FORMAT: "json" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 20_000;
  for (;;) {
    const ready = await fetch(`http://127.0.0.1:${port}/health/ready`).then((r) => r.status === 200).catch(() => false);
    if (ready) break;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`service did not become ready:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, port, output: () => output };
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolveExit) => child.once("exit", (code, signal) => resolveExit({ code, signal })));
}

test("a service process serves health and metrics, and stops cleanly on SIGTERM", async () => {
  const { child, port, output } = await startProcess();
  const metrics = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
  expect(metrics).toContain('service="audit"');
  const exited = exitOf(child);
  child.kill("SIGTERM");
  expect(await exited).toEqual({ code: 0, signal: null });
  expect(output()).toContain("audit stopped");
}, 40_000);

test("a second signal while it drains (a process-group signal, then the runner's) is ignored", async () => {
  const { child, output } = await startProcess();
  const exited = exitOf(child);
  child.kill("SIGTERM");
  // The second arrives once the first is being handled, as the runner's follows the group's.
  while (!output().includes("audit stopping")) await new Promise((r) => setTimeout(r, 1));
  child.kill("SIGTERM");
  expect(await exited).toEqual({ code: 0, signal: null });
  expect(output().match(/audit stopping/g)).toHaveLength(1);
}, 40_000);
