import { sleep } from "./support/child";
import { worldTest } from "./support/fixtures";
import { expectClean, record } from "./support/record";
import { runScenario } from "./support/scenario";
import { createTenant } from "./support/tenant";

/**
 * Postgres goes away under load (docs/reliability.md): stopped for a minute, and restarted
 * fast (well under a second) while runs are in their model call. Every delivery and start
 * is resent with its key until accepted; nothing accepted may be lost, doubled or stuck.
 */

// 32 runs at once, so a restart finds many of them mid-step.
const test = worldTest("postgres", { workerEnv: { EXECUTION_CONCURRENCY: "32" } }).extend("tenant", { scope: "file" }, ({ world }) => createTenant(world.gatewayUrl, world.db, "postgres"));

test.beforeAll(async ({ tenant }) => {
  void tenant;
});

test("Postgres fast restart (three, 5 s apart) under 400 deliveries and 40 API starts: nothing lost, doubled or stuck, no run calls the model twice", async ({ world, tenant }) => {
  // Each model call takes 300 ms, so restarts land while runs wait on the model.
  await world.modelControl({ latencyMs: 300 });
  const blips: Array<{ outageMs: number; totalMs: number }> = [];
  const outcome = await runScenario(world, {
    fault: "Postgres fast restart",
    run: "pgrestart",
    tenants: [tenant],
    deliveries: 400,
    starts: 40,
    spreadMs: 20_000,
    faultAfterMs: 4_000,
    inject: async () => {
      for (let i = 0; i < 3; i++) {
        if (i > 0) await sleep(5_000);
        blips.push(await world.pg.restart());
      }
    },
  });
  await world.modelControl({ latencyMs: 0 });
  console.log(`[fault] Postgres restarts, the server's outage (until a query of ours answered): ${blips.map((b) => `${b.outageMs} ms (${b.totalMs} ms)`).join(", ")}`);
  await record("postgres-restart", outcome, { restartsMs: blips.map((b) => b.outageMs) });
  expectClean(outcome, { noModelRepeats: true });
});

test("Postgres stopped 60 s under 400 deliveries and 40 API starts: every answer 202 or 503, nothing lost, doubled or stuck, every service ready again by itself", async ({ world, tenant }) => {
  const outcome = await runScenario(world, {
    fault: "Postgres stopped 60 s",
    run: "pgstop",
    tenants: [tenant],
    deliveries: 400,
    starts: 40,
    spreadMs: 40_000,
    faultAfterMs: 5_000,
    inject: async () => {
      await world.pg.stop();
      await sleep(60_000);
      await world.pg.start();
    },
  });
  await record("postgres-stop", outcome);
  expectClean(outcome);
});
