import { describe } from "vitest";
import { z } from "zod";
import { sql } from "@galaxy/db";
import { sleep, waitFor } from "./support/child";
import { worldTest } from "./support/fixtures";
import { expectClean, record } from "./support/record";
import { runScenario } from "./support/scenario";
import type { ServiceName } from "./support/services";
import { createTenant, type Tenant } from "./support/tenant";
import type { World } from "./support/world";

/**
 * Galaxy's own processes die (docs/reliability.md): each service killed with SIGKILL in turn
 * under load and started again, as a supervisor would; then two worker instances share 200
 * running executions and one is killed mid-run for good. No handler runs, nothing is
 * flushed; what was accepted must still be done exactly once.
 */

// A killed worker's runs are taken over once their lease expires: 10 s rather than 30 s keeps
// the lane short. 120 at once per instance, so two hold 200.
const WORKER_ENV = { EXECUTION_CONCURRENCY: "120", EXECUTION_LEASE_MS: "10000" };
const test = worldTest("services", { workerEnv: WORKER_ENV }).extend("tenants", { scope: "file" }, async ({ world }) => {
  // The enterprise tier runs 50 of a workspace's executions at once: four workspaces make 200.
  const tenants: Tenant[] = [];
  for (let i = 0; i < 4; i++) tenants.push(await createTenant(world.gatewayUrl, world.db, `services${i}`));
  return tenants;
});

test.beforeAll(async ({ tenants }) => {
  void tenants;
});

const KILLED: ReadonlyArray<[ServiceName, string]> = [
  ["gateway", "gateway"],
  ["identity", "identity"],
  ["agent-registry", "registry"],
  ["execution-worker", "worker"],
  ["audit", "audit"],
];

describe.each(KILLED)("kill -9 of %s", (service, slug) => {
  test(`${service} killed and restarted under 200 deliveries and 20 API starts: nothing lost, doubled or stuck`, async ({ world, tenants }) => {
    // Runs spend 300 ms in their model call, so a kill finds some mid-run.
    await world.modelControl({ latencyMs: 300 });
    let downMs = 0;
    const outcome = await runScenario(world, {
      fault: `kill -9 of ${service}, restarted`,
      run: `kill${slug}`,
      tenants,
      deliveries: 200,
      starts: 20,
      spreadMs: 10_000,
      faultAfterMs: 3_000,
      inject: async () => {
        const killedAt = Date.now();
        await world.galaxy.kill9(service);
        // A supervisor's first restart waits a moment.
        await sleep(1_000);
        await world.galaxy.start(service, service, service === "execution-worker" ? WORKER_ENV : {});
        downMs = Date.now() - killedAt;
      },
    });
    await record(`kill-${slug}`, outcome, { downMs });
    expectClean(outcome);
  });
});

test("one of two workers killed with 200 executions running: the other finishes them, none lost, doubled or stuck", async ({ world, tenants }) => {
  await world.galaxy.start("execution-worker-2", "execution-worker", WORKER_ENV);
  // Each model call takes 30 s, so all 200 runs are in flight together.
  await world.modelControl({ latencyMs: 30_000 });
  let runningAtKill = 0;
  const seen: number[] = [];
  const outcome = await runScenario(world, {
    fault: "two workers, one killed mid-run",
    run: "failover",
    tenants,
    deliveries: 0,
    starts: 200,
    spreadMs: 2_000,
    faultAfterMs: 2_000,
    inject: async () => {
      // As many running as the tiers and the two workers allow (200), or the most seen in 40 s.
      runningAtKill = await waitFor(
        "200 executions running",
        async () => {
          const n = await runningCount(world);
          seen.push(n);
          return n >= 200 ? n : undefined;
        },
        40_000,
        500,
      ).catch(() => Math.max(...seen));
      await world.galaxy.kill9("execution-worker");
    },
    settleTimeoutMs: 180_000,
  });
  await world.modelControl({ latencyMs: 0 });
  console.log(`[fault] executions running, every 500 ms until the kill: ${seen.join(" ")}`);
  await record("worker-failover", outcome, { runningAtKill });
  // The killed worker's runs were in their model call: those call it again, as they must.
  expectClean(outcome);
});

async function runningCount(world: World): Promise<number> {
  const rows = await sql<{ n: number }>`select count(*)::int as n from execution.executions where status = 'running' and input->>'message' like 'fault-failover-%'`.execute(world.db);
  return z.number().parse(rows.rows[0]?.n ?? 0);
}
