import { expect } from "vitest";
import { z } from "zod";
import { CreatedTrigger } from "@galaxy/contracts";
import { sql } from "@galaxy/db";
import { sleep, waitFor } from "./support/child";
import { worldTest } from "./support/fixtures";
import { call, dataOf } from "./support/http";
import { expectClean, record } from "./support/record";
import { runScenario } from "./support/scenario";
import { createTenant } from "./support/tenant";

/**
 * The bus and the cache go away under load (docs/reliability.md): nats-server killed with
 * SIGKILL and back after 10 s; Redis (webhook rate limits, schedules) stopped for 10 s while a
 * schedule ticks every 2 s.
 */

const test = worldTest("bus", { workerEnv: { EXECUTION_CONCURRENCY: "32" } }).extend("tenant", { scope: "file" }, ({ world }) => createTenant(world.gatewayUrl, world.db, "bus"));

test.beforeAll(async ({ tenant }) => {
  void tenant;
});

test("nats-server kill -9, back after 10 s, under 400 deliveries and 40 API starts: nothing lost, doubled or stuck", async ({ world, tenant }) => {
  const outcome = await runScenario(world, {
    fault: "nats-server kill -9, back after 10 s",
    run: "natskill",
    tenants: [tenant],
    deliveries: 400,
    starts: 40,
    spreadMs: 25_000,
    faultAfterMs: 5_000,
    inject: async () => {
      await world.nats.kill9();
      await sleep(10_000);
      await world.nats.start();
    },
  });
  await record("nats-kill", outcome);
  expectClean(outcome);
});

const Row = z.object({ id: z.string(), status: z.string(), created_at: z.date() });

test("Redis stopped 10 s under 400 deliveries and a schedule ticking every 2 s: nothing lost, doubled or stuck, and the schedule ticks again", async ({ world, tenant }) => {
  const schedule = dataOf(
    CreatedTrigger,
    await call(world.gatewayUrl, "POST", `/api/agents/${tenant.agentId}/triggers`, { token: tenant.token, body: { type: "schedule", cron: "*/2 * * * * *", input: { message: "schedule-tick" } } }),
  );
  const ticks = async () => z.array(Row).parse((await sql`select id::text as id, status, created_at from execution.executions where trigger->>'id' = ${schedule.id} order by created_at`.execute(world.db)).rows);
  await waitFor("the schedule's first tick", async () => ((await ticks()).length > 0 ? true : undefined), 20_000, 500);

  let redisBackAt = 0;
  const outcome = await runScenario(world, {
    fault: "Redis stopped 10 s",
    run: "redisstop",
    tenants: [tenant],
    deliveries: 400,
    starts: 0,
    spreadMs: 25_000,
    faultAfterMs: 5_000,
    inject: async () => {
      await world.redis.stop();
      await sleep(10_000);
      await world.redis.start();
      redisBackAt = Date.now();
    },
  });
  // The schedule goes on once Redis is back: at least two ticks made after it.
  const resumed = await waitFor("the schedule to tick again after Redis came back", async () => {
    const after = (await ticks()).filter((row) => row.created_at.getTime() > redisBackAt);
    return after.length >= 2 ? after.length : undefined;
  }, 30_000, 500).catch(() => 0);
  const deleted = await call(world.gatewayUrl, "DELETE", `/api/agents/${tenant.agentId}/triggers/${schedule.id}`, { token: tenant.token });
  expect(deleted.status).toBeLessThan(300);
  // Every tick's run ends, and completes.
  await waitFor("every tick's run to end", async () => ((await ticks()).every((row) => ["completed", "failed", "cancelled", "timed_out"].includes(row.status)) ? true : undefined), 60_000, 500).catch(() => undefined);
  const all = await ticks();
  const gaps = all.slice(1).map((row, i) => row.created_at.getTime() - (all[i]?.created_at.getTime() ?? 0));
  console.log(`[fault] schedule: ${all.length} ticks, ${resumed} after Redis came back, longest gap between ticks ${Math.max(0, ...gaps)} ms`);
  await record("redis-stop", outcome, { schedule: { ticks: all.length, afterRedisBack: resumed, longestGapMs: Math.max(0, ...gaps), notCompleted: all.filter((row) => row.status !== "completed").length } });
  expectClean(outcome);
  expect.soft(resumed, "ticks after Redis came back").toBeGreaterThanOrEqual(2);
  expect.soft(all.filter((row) => row.status !== "completed").map((row) => `${row.id} ${row.status}`), "ticks that did not complete").toEqual([]);
});
