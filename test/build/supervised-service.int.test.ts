import { expect } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectTestBus, freePort, programEnv, testLogger } from "@galaxy/testkit";
import { test as engineTest } from "@galaxy/testkit/fixtures";
import { buildAll, ROOT } from "../../scripts/build/bundle";
import { Supervisor } from "../../scripts/supervisor";
import { answersOk, eventually } from "./wait";

/**
 * `make up` as it runs a service: the compiled identity (`dist/identity/main.js`) under the
 * supervisor, on this test's own database, bus prefix and ports. A `kill -9` must bring it
 * back ready by itself, and a stop must leave nothing running.
 */

/**
 * On the testkit's `env`, each set up once per file and cleaned up after it:
 * - `outdir`: the programs compiled as `make build` does, in a directory of their own;
 * - `port`: a free port for identity, whose readiness answers at `readyUrl`;
 * - `supervisor`: the supervisor, started, running the compiled identity on `env` and `port`.
 */
const test = engineTest
  .extend("outdir", { scope: "file" }, async ({}, { onCleanup }): Promise<string> => {
    const outdir = await mkdtemp(join(tmpdir(), "galaxy-dist-"));
    onCleanup(() => rm(outdir, { recursive: true, force: true }));
    await buildAll({ outdir });
    return outdir;
  })
  .extend("port", { scope: "file" }, async ({}) => freePort())
  .extend("readyUrl", { scope: "file" }, async ({ port }) => `http://127.0.0.1:${port}/health/ready`)
  .extend("supervisor", { scope: "file" }, async ({ env, outdir, port }, { onCleanup }): Promise<Supervisor> => {
    const bus = await connectTestBus(env, "setup");
    await bus.close();
    const supervisor = new Supervisor({
      programs: [{ name: "identity", args: ["--enable-source-maps", join(outdir, "identity/main.js")] }],
      cwd: ROOT,
      env: programEnv(env, { IDENTITY_PORT: String(port) }),
      logger: testLogger("supervisor"),
      write: () => {},
      backoff: { initialMs: 100 },
    });
    onCleanup(() => supervisor.stop());
    supervisor.start();
    return supervisor;
  });

// Compiling the programs and starting the supervisor take a while: before the test, under this limit.
test.beforeAll(async ({ supervisor }) => {
  void supervisor;
}, 120_000);

test("the compiled identity, killed with SIGKILL, is started again and answers ready; a stop leaves nothing running", async ({ supervisor, readyUrl }) => {
  await eventually(async () => ((await answersOk(readyUrl)) ? true : undefined), 60_000, "identity to be ready");
  const first = supervisor.pid("identity");
  expect(first).toBeDefined();

  process.kill(first ?? 0, "SIGKILL");
  const second = await eventually(() => {
    const pid = supervisor.pid("identity");
    return pid !== undefined && pid !== first ? pid : undefined;
  }, 30_000, "identity to be started again");
  await eventually(async () => ((await answersOk(readyUrl)) ? true : undefined), 60_000, "identity to be ready again");
  expect(supervisor.restarts()).toEqual({ identity: 1 });
  expect(supervisor.pid("identity")).toBe(second);

  await supervisor.stop();
  expect(supervisor.pid("identity")).toBeUndefined();
  expect(() => process.kill(second, 0)).toThrow();
  expect(await answersOk(readyUrl)).toBe(false);
}, 180_000);
