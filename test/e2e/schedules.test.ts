import { Queue } from "bullmq";
import { describe, expect, vi } from "vitest";
import { Agent, CreatedTrigger, SignupResult } from "@galaxy/contracts";
import { sql } from "@galaxy/db";
import { connectTestBus, deleteRedisKeys, serviceDb, testLogger } from "@galaxy/testkit";
import { createAgentRegistry, scheduleQueueName, tickExecutionId, type AgentRegistry, type RegistryDb } from "@galaxy/agent-registry";
import { galaxyTest, startGalaxyFirst } from "./fixtures";
import { api, dataOf, eventually, type Galaxy } from "./harness";

/**
 * Schedule triggers (docs/webhooks.md, Schedules): BullMQ job schedulers tick, each tick starts exactly one
 * execution even with two registry processes, Postgres is the source of truth (a Redis flush
 * loses nothing), and deleting the trigger or pausing the agent stops the ticks.
 */

/** The schedules' keys in Redis: BullMQ's, under the file's prefix. */
const keyPrefix = (galaxy: Galaxy) => `${galaxy.env.redisPrefix}bull`;

/**
 * Set up before the first test:
 * - `second`: a second registry process beside the harness's, on the same queue. Its periodic
 *   pass is slow, so this test decides when a reconciliation runs (and agent events trigger one);
 * - `token`, of a workspace with an active agent, `agentId`.
 * `executionsOf`: the executions a schedule trigger started; `schedulerIds`: the queue's job schedulers.
 */
const test = galaxyTest()
  .extend("second", { scope: "file", auto: true }, async ({ galaxy }, { onCleanup }): Promise<AgentRegistry> => {
    const secondBus = await connectTestBus(galaxy.env, "agent-registry");
    const secondDb = serviceDb<RegistryDb>(galaxy.env, "agent-registry");
    const second = createAgentRegistry({
      db: secondDb,
      bus: secondBus,
      logger: testLogger("agent-registry-2"),
      masterKey: galaxy.env.masterKey,
      schedules: { redisUrl: galaxy.env.redisUrl, queueName: scheduleQueueName(galaxy.env.busPrefix), keyPrefix: keyPrefix(galaxy), reconcileIntervalMs: 600_000 },
    });
    onCleanup(async () => {
      await secondBus.stopIntake();
      await second.stop();
      await secondBus.close();
      await secondDb.destroy();
    });
    await second.start();
    await secondBus.flush();
    return second;
  })
  .extend("token", { scope: "file", auto: true }, async ({ galaxy }) =>
    dataOf(SignupResult, await api(galaxy, "POST", "/api/auth/signup", { body: { email: "cron@example.com", password: "correct horse battery", name: "Cron", workspaceName: "Cron" } })).accessToken)
  .extend("agentId", { scope: "file", auto: true }, async ({ galaxy, token }) => {
    const agentId = dataOf(Agent, await api(galaxy, "POST", "/api/agents", { token, body: { name: "Ticker", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "Repeat." } })).id;
    expect((await api(galaxy, "POST", `/api/agents/${agentId}/activate`, { token })).status).toBe(200);
    return agentId;
  })
  .extend("executionsOf", { scope: "file" }, async ({ superuser }) => async (triggerId: string): Promise<string[]> => {
    const rows = await sql<{ id: string }>`select id from execution.executions where trigger->>'type' = 'schedule' and trigger->>'id' = ${triggerId} order by created_at`.execute(superuser);
    return rows.rows.map((r) => r.id);
  })
  .extend("schedulerIds", { scope: "file" }, async ({ scheduleQueue }) => async (): Promise<string[]> => (await scheduleQueue.getJobSchedulers(0, -1)).map((s) => s.key));
startGalaxyFirst(test);

test.beforeAll(async ({ second, agentId }) => {
  void second;
  void agentId;
}, 60_000);

describe("creating a schedule", () => {
  test.for([
    [{ type: "schedule", cron: "61 * * * *" }, "trigger.cron"],
    [{ type: "schedule", cron: "* * * * *", timezone: "Mars/Olympus_Mons" }, "trigger.timezone"],
    [{ type: "schedule", cron: "* * *" }, "body.cron"],
  ] as const)("%j is 400, naming %s", async ([body, field], { galaxy, token, agentId }) => {
    const response = await api(galaxy, "POST", `/api/agents/${agentId}/triggers`, { token, body });
    expect(response.status, JSON.stringify(response.body)).toBe(400);
    expect(Object.keys((response.body as { details?: Record<string, string> }).details ?? {})).toContain(field);
  });
});

describe("a schedule every 2 seconds, with two registry processes", () => {
  let triggerId = "";

  test("each tick starts exactly one execution", async ({ galaxy, token, agentId, executionsOf, scheduleQueue }) => {
    const response = await api(galaxy, "POST", `/api/agents/${agentId}/triggers`, { token, body: { type: "schedule", cron: "*/2 * * * * *", timezone: "Europe/Paris", input: { message: "tick" } } });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    const trigger = dataOf(CreatedTrigger, response);
    expect(trigger).toMatchObject({ type: "schedule", cron: "*/2 * * * * *", timezone: "Europe/Paris", input: { message: "tick" }, url: null });
    expect(trigger.secret).toBeUndefined();
    triggerId = trigger.id;

    await eventually(async () => ((await executionsOf(triggerId)).length >= 3 ? true : undefined), 20_000, "three ticks");
    const ticks = (await scheduleQueue.getJobs(["completed"], 0, -1)).filter((job) => job.data?.triggerId === triggerId && job.id);
    const executions = await executionsOf(triggerId);
    // Every completed tick started its one execution, and every execution is one tick's.
    const fromTicks = ticks.map((job) => tickExecutionId(triggerId, job.id ?? ""));
    for (const id of fromTicks) expect(executions).toContain(id);
    const active = (await scheduleQueue.getJobs(["active", "completed"], 0, -1)).filter((job) => job.data?.triggerId === triggerId).map((job) => tickExecutionId(triggerId, job.id ?? ""));
    for (const id of executions) expect(active).toContain(id);
    expect(new Set(executions).size).toBe(executions.length);
    // One job per 2-second tick: each names its tick's time, and no time twice.
    const times = ticks.map((job) => Number((job.id ?? "").split(":").at(-1)));
    expect(new Set(times).size).toBe(times.length);
    for (const time of times) expect(time % 2_000).toBe(0);

    const first = executions[0] ?? "";
    const read = await api(galaxy, "GET", `/api/executions/${first}`, { token });
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ data: { trigger: { type: "schedule", id: triggerId }, input: { message: "tick" }, agentId } });
  }, 40_000);

  test("after Redis loses the schedule, the reconciler restores it from Postgres and the ticks go on", async ({ galaxy, second, executionsOf, schedulerIds }) => {
    await deleteRedisKeys(galaxy.env.redisUrl, keyPrefix(galaxy));
    expect(await schedulerIds()).not.toContain(triggerId);
    const before = (await executionsOf(triggerId)).length;
    expect(await second.schedules?.reconcile()).toEqual({ upserted: 1, removed: 0 });
    expect(await schedulerIds()).toContain(triggerId);
    await eventually(async () => ((await executionsOf(triggerId)).length > before ? true : undefined), 15_000, "a tick after the flush");
  }, 30_000);

  test("pausing the agent stops the ticks; activating it starts them again", async ({ galaxy, token, agentId, executionsOf, schedulerIds, scheduleQueue }) => {
    expect((await api(galaxy, "POST", `/api/agents/${agentId}/pause`, { token })).status).toBe(200);
    await eventually(async () => ((await schedulerIds()).includes(triggerId) ? undefined : true), 10_000, "the scheduler to be retired");
    // A tick taken just before the pause may still finish: count once the scheduler is gone.
    await eventually(async () => ((await scheduleQueue.getJobs(["active"])).length === 0 ? true : undefined), 10_000, "ticks in flight to finish");
    const paused = (await executionsOf(triggerId)).length;
    await new Promise((resolve) => setTimeout(resolve, 4_500));
    expect(await executionsOf(triggerId)).toHaveLength(paused);

    expect((await api(galaxy, "POST", `/api/agents/${agentId}/activate`, { token })).status).toBe(200);
    await eventually(async () => ((await executionsOf(triggerId)).length > paused ? true : undefined), 15_000, "ticks after activation");
  }, 40_000);

  test("deleting the trigger stops the ticks", async ({ galaxy, token, agentId, executionsOf, schedulerIds, scheduleQueue }) => {
    expect((await api(galaxy, "DELETE", `/api/agents/${agentId}/triggers/${triggerId}`, { token })).status).toBe(204);
    expect(await schedulerIds()).not.toContain(triggerId);
    await eventually(async () => ((await scheduleQueue.getJobs(["active"])).length === 0 ? true : undefined), 10_000, "ticks in flight to finish");
    const after = (await executionsOf(triggerId)).length;
    // Longer than two ticks and than the reconciler's period: nothing brings it back.
    await new Promise((resolve) => setTimeout(resolve, 4_500));
    expect(await executionsOf(triggerId)).toHaveLength(after);
    expect(await schedulerIds()).not.toContain(triggerId);
    const list = await api(galaxy, "GET", `/api/agents/${agentId}/triggers`, { token });
    expect(JSON.stringify(list.body)).not.toContain(triggerId);
  }, 30_000);
});

describe("a reconciliation pass", () => {
  test("keeps the scheduler of a schedule created while it runs", async ({ galaxy, token, agentId, second, schedulerIds, onTestFinished }) => {
    let createdId = "";
    const read = Queue.prototype.getJobSchedulers;
    // The pass's read of Redis's schedulers: a schedule is created (committed, then scheduled by
    // the registry that took the request) just before it.
    const spy = vi.spyOn(Queue.prototype, "getJobSchedulers").mockImplementationOnce(async function (this: Queue, ...args: Parameters<Queue["getJobSchedulers"]>) {
      const created = await api(galaxy, "POST", `/api/agents/${agentId}/triggers`, { token, body: { type: "schedule", cron: "0 9 * * *", timezone: "UTC" } });
      createdId = dataOf(CreatedTrigger, created).id;
      return read.apply(this, args);
    });
    onTestFinished(() => spy.mockRestore());
    await second.schedules?.reconcile();
    expect(createdId).not.toBe("");
    expect(await schedulerIds()).toContain(createdId);
    expect((await api(galaxy, "DELETE", `/api/agents/${agentId}/triggers/${createdId}`, { token })).status).toBe(204);
  });
});
