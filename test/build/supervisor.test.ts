import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createLogger } from "@galaxy/observability";
import { restartDelay, Supervisor, type Program } from "../../scripts/supervisor";
import { eventually } from "./wait";

/** The supervisor `make up` runs the services under (docs/operations.md, make up), on tiny scripts. */

let dir = "";
let supervisor: Supervisor | undefined;
let logLines: Array<Record<string, unknown>> = [];

/** A pino logger whose lines the test reads. */
function capturingLogger() {
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return createLogger({ service: "supervisor-test", level: "info", destination });
}

/**
 * A script that appends `start` to its journal each time it starts, exits with `code` until it
 * has started `crashes + 1` times, then runs until SIGTERM, after which it appends `stopping`,
 * waits a moment and appends `stopped`; both also go to the shared `order` journal, with its name.
 */
async function script(name: string, options: { crashes: number; code: number }): Promise<Program> {
  const journal = join(dir, `${name}.journal`);
  const file = join(dir, `${name}.mjs`);
  await writeFile(
    file,
    `import { appendFileSync, existsSync, readFileSync } from "node:fs";
const journal = ${JSON.stringify(journal)};
const order = ${JSON.stringify(join(dir, "order.journal"))};
const starts = existsSync(journal) ? readFileSync(journal, "utf8").split("\\n").filter((l) => l === "start").length : 0;
appendFileSync(journal, "start\\n");
if (starts < ${options.crashes}) process.exit(${options.code});
process.on("SIGTERM", () => {
  appendFileSync(journal, "stopping\\n");
  appendFileSync(order, "${name} stopping\\n");
  setTimeout(() => {
    appendFileSync(journal, "stopped\\n");
    appendFileSync(order, "${name} stopped\\n");
    process.exit(0);
  }, 100);
});
console.log("${name} running");
setInterval(() => {}, 1000);
`,
  );
  return { name, args: [file] };
}

async function journal(name: string): Promise<string[]> {
  return (await readFile(join(dir, `${name}.journal`), "utf8").catch(() => "")).split("\n").filter(Boolean);
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "galaxy-supervisor-"));
  logLines = [];
});

afterEach(async () => {
  await supervisor?.stop();
  supervisor = undefined;
  await rm(dir, { recursive: true, force: true });
});

describe("restartDelay", () => {
  test("starts at 0.5 s, doubles on each exit in a row, and stays at 10 s", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 20].map((n) => restartDelay(n))).toEqual([500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000]);
  });
});

describe("Supervisor", () => {
  test("starts a program that exits again, each time after a longer wait, and logs its exit code", async () => {
    const crasher = await script("crasher", { crashes: 3, code: 3 });
    const lines: string[] = [];
    supervisor = new Supervisor({ programs: [crasher], logger: capturingLogger(), write: (line) => lines.push(line), backoff: { initialMs: 20, maxMs: 40, stableMs: 60_000 } });
    supervisor.start();

    await eventually(() => (lines.some((line) => line.endsWith("crasher running")) ? true : undefined), 20_000, "the fourth start to keep running");
    expect(await journal("crasher")).toEqual(["start", "start", "start", "start"]);
    expect(supervisor.restarts()).toEqual({ crasher: 3 });
    const exits = logLines.filter((line) => line.program === "crasher");
    expect(exits.map((line) => [line.code, line.signal, line.exitsInARow, line.restartInMs])).toEqual([
      [3, null, 1, 20],
      [3, null, 2, 40],
      [3, null, 3, 40],
    ]);
    expect(exits[0]?.msg).toBe("crasher exited (code 3); starting it again in 0.0 s");
    expect(lines.every((line) => line.startsWith("crasher  | "))).toBe(true);
  });

  test("a program that ran for longer than stableMs before it exits starts over at the first wait", async () => {
    const crasher = await script("steady", { crashes: 3, code: 1 });
    supervisor = new Supervisor({ programs: [crasher], logger: capturingLogger(), write: () => {}, backoff: { initialMs: 20, maxMs: 1_000, stableMs: 0 } });
    supervisor.start();
    await eventually(async () => ((await journal("steady")).length === 4 ? true : undefined), 20_000, "four starts");
    expect(logLines.filter((line) => line.program === "steady").map((line) => [line.exitsInARow, line.restartInMs])).toEqual([
      [1, 20],
      [1, 20],
      [1, 20],
    ]);
  });

  test("a program killed by a signal is started again, and the others keep running", async () => {
    const victim = await script("victim", { crashes: 0, code: 0 });
    const bystander = await script("bystander", { crashes: 0, code: 0 });
    supervisor = new Supervisor({ programs: [victim, bystander], logger: capturingLogger(), write: () => {}, backoff: { initialMs: 20 } });
    supervisor.start();
    const first = await eventually(() => supervisor?.pid("victim"), 20_000, "victim to start");
    const bystanderPid = await eventually(() => supervisor?.pid("bystander"), 20_000, "bystander to start");
    process.kill(first, "SIGKILL");

    const second = await eventually(() => {
      const pid = supervisor?.pid("victim");
      return pid !== undefined && pid !== first ? pid : undefined;
    }, 20_000, "victim to be started again");
    expect(second).not.toBe(first);
    expect(supervisor.pid("bystander")).toBe(bystanderPid);
    expect(logLines.find((line) => line.program === "victim")).toMatchObject({ code: null, signal: "SIGKILL", exitsInARow: 1 });
  });

  test("stop() stops stopFirst before the rest, each gracefully, and starts nothing again", async () => {
    const gateway = await script("gateway", { crashes: 0, code: 0 });
    const worker = await script("worker", { crashes: 0, code: 0 });
    const lines: string[] = [];
    supervisor = new Supervisor({ programs: [worker, gateway], logger: capturingLogger(), write: (line) => lines.push(line), stopFirst: ["gateway"] });
    supervisor.start();
    await eventually(() => (lines.length === 2 ? true : undefined), 20_000, "both to run");

    await supervisor.stop();
    expect(await journal("order")).toEqual(["gateway stopping", "gateway stopped", "worker stopping", "worker stopped"]);
    expect(supervisor.pid("gateway")).toBeUndefined();
    expect(supervisor.pid("worker")).toBeUndefined();
    expect(supervisor.restarts()).toEqual({ worker: 0, gateway: 0 });
    expect(logLines).toEqual([]);
  });
});
