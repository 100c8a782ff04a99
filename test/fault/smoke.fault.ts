import { afterAll, beforeAll, test } from "vitest";
import { createTenant, type Tenant } from "./support/tenant";
import { World } from "./support/world";
import { runScenario } from "./support/scenario";
import { expectClean, record } from "./support/record";

let world: World;
let tenant: Tenant;
let failed = false;

beforeAll(async () => {
  const t0 = Date.now();
  world = await World.start("smoke");
  console.log(`world up in ${Date.now() - t0} ms`);
  tenant = await createTenant(world.gatewayUrl, world.db, "smoke");
  console.log(`tenant in ${Date.now() - t0} ms`);
});

afterAll(async () => {
  await world?.stop(failed);
});

test("smoke", async (context) => {
  context.onTestFailed(() => {
    failed = true;
  });
  const outcome = await runScenario(world, { fault: "none", run: "smoke", tenants: [tenant], deliveries: 40, starts: 10, spreadMs: 5_000, faultAfterMs: 1_000, inject: async () => {} });
  await record("smoke", outcome);
  expectClean(outcome);
});
