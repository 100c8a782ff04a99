import { expect } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import type { Bus } from "@galaxy/bus";
import { connectTestBus, freePort } from "@galaxy/testkit";
import { test as engineTest } from "@galaxy/testkit/fixtures";

// The audit service's real entry point stands in for every bus service: they all run
// through runBusService.
const ENTRY = resolve(import.meta.dirname, "../../../services/audit/src/main.ts");

/** A service process started by `startProcess`: the child, its ops port, and what it printed so far. */
interface ServiceProcess {
  child: ChildProcess;
  port: number;
  output: () => string;
}

/**
 * On the testkit's `env`, each set up once per file:
 * - `bus`: a bus of the file's prefix, which provisioned its streams (as setup does);
 * - `startProcess`: starts the audit service's process on `env` and waits until it is ready; one
 *   still running after the file's last test is killed.
 */
const test = engineTest
  .extend("bus", { scope: "file" }, async ({ env }, { onCleanup }): Promise<Bus> => {
    const bus = await connectTestBus(env, "test");
    onCleanup(() => bus.close());
    return bus;
  })
  .extend("startProcess", { scope: "file" }, async ({ env, bus }, { onCleanup }) => {
    // The service finds the `EVENTS` and `DEAD_LETTERS` streams provisioned, as setup leaves them.
    void bus;
    const started: ChildProcess[] = [];
    onCleanup(() => {
      for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    });
    return async (): Promise<ServiceProcess> => {
      const port = await freePort();
      let output = "";
      const child = spawn(process.execPath, ["--import", "tsx", ENTRY], {
        env: { ...process.env, DATABASE_URL: env.databaseUrl, NATS_URL: env.natsUrl, GALAXY_BUS_PREFIX: env.busPrefix, AUDIT_PORT: String(port), LOG_LEVEL: "info", LOG_FORMAT: "json" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      started.push(child);
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
    };
  });

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolveExit) => child.once("exit", (code, signal) => resolveExit({ code, signal })));
}

test("a service process serves health and metrics, and stops cleanly on SIGTERM", async ({ startProcess }) => {
  const { child, port, output } = await startProcess();
  const metrics = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
  expect(metrics).toContain('service="audit"');
  const exited = exitOf(child);
  child.kill("SIGTERM");
  expect(await exited).toEqual({ code: 0, signal: null });
  expect(output()).toContain("audit stopped");
}, 40_000);

test("a second signal while it drains (a process-group signal, then the runner's) is ignored", async ({ startProcess }) => {
  const { child, output } = await startProcess();
  const exited = exitOf(child);
  child.kill("SIGTERM");
  // The second arrives once the first is being handled, as the runner's follows the group's.
  while (!output().includes("audit stopping")) await new Promise((r) => setTimeout(r, 1));
  child.kill("SIGTERM");
  expect(await exited).toEqual({ code: 0, signal: null });
  expect(output().match(/audit stopping/g)).toHaveLength(1);
}, 40_000);
