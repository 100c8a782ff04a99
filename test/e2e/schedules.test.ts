import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { Agent, CreatedTrigger, SignupResult } from "@galaxy/contracts";
import { createDb, sql, type Kysely } from "@galaxy/db";
import { connectTestBus, deleteRedisKeys, serviceDb, testLogger } from "@galaxy/testkit";
import type { Bus } from "@galaxy/bus";
import { createAgentRegistry, scheduleQueueName, tickExecutionId, type AgentRegistry, type RegistryDb } from "@galaxy/agent-registry";
import { api, dataOf, eventually, startGalaxy, type Galaxy } from "./harness";

/**
 * Schedule triggers (issue 5): BullMQ job schedulers tick, each tick starts exactly one
 * execution even with two registry processes, Postgres is the source of truth (a Redis flush
 * loses nothing), and deleting the trigger or pausing the agent stops the ticks.
 */

let galaxy: Galaxy;
let superuser: Kysely<unknown>;
/**
 * A second registry process beside the harness's, on the same queue. Its periodic pass is
 * slow, so this test decides when a reconciliation runs (and agent events trigger one).
 */
let second: AgentRegistry;
let secondBus: Bus;
let secondDb: Kysely<RegistryDb>;
let queue: Queue;
let queueRedis: Redis;
let token = "";
let agentId = "";

const keyPrefix = () => `${galaxy.env.redisPrefix}bull`;

async function executionsOf(triggerId: string): Promise<string[]> {
  const rows = await sql<{ id: string }>`select id from execution.executions where trigger->>'type' = 'schedule' and trigger->>'id' = ${triggerId} order by created_at`.execute(superuser);
  return rows.rows.map((r) => r.id);
}

async function schedulerIds(): Promise<string[]> {
  return (await queue.getJobSchedulers(0, -1)).map((s) => s.key);
}

beforeAll(async () => {
  galaxy = await startGalaxy(inject("engines"));
  superuser = createDb<unknown>({ connectionString: galaxy.env.databaseUrl, max: 2 });
  secondBus = await connectTestBus(galaxy.env, "agent-registry");
  secondDb = serviceDb<RegistryDb>(galaxy.env, "agent-registry");
  second = createAgentRegistry({
    db: secondDb,
    bus: secondBus,
    logger: testLogger("agent-registry-2"),
    masterKey: galaxy.env.masterKey,
    schedules: { redisUrl: galaxy.env.redisUrl, queueName: scheduleQueueName(galaxy.env.busPrefix), keyPrefix: keyPrefix(), reconcileIntervalMs: 600_000 },
  });
  await second.start();
  await secondBus.flush();
  queueRedis = new Redis(galaxy.env.redisUrl, { maxRetriesPerRequest: null });
  queue = new Queue(scheduleQueueName(galaxy.env.busPrefix), { connection: queueRedis, prefix: keyPrefix() });

  const signup = dataOf(SignupResult, await api(galaxy, "POST", "/api/auth/signup", { body: { email: "cron@example.com", password: "correct horse battery", name: "Cron", workspaceName: "Cron" } }));
  token = signup.accessToken;
  agentId = dataOf(Agent, await api(galaxy, "POST", "/api/agents", { token, body: { name: "Ticker", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "Repeat." } })).id;
  expect((await api(galaxy, "POST", `/api/agents/${agentId}/activate`, { token })).status).toBe(200);
}, 60_000);

afterAll(async () => {
  await queue?.close();
  queueRedis?.disconnect();
  await secondBus?.stopIntake();
  await second?.stop();
  await secondBus?.close();
  await secondDb?.destroy();
  await superuser?.destroy();
  await galaxy?.stop();
});

describe("creating a schedule", () => {
  test.each([
    [{ type: "schedule", cron: "61 * * * *" }, "trigger.cron"],
    [{ type: "schedule", cron: "* * * * *", timezone: "Mars/Olympus_Mons" }, "trigger.timezone"],
    [{ type: "schedule", cron: "* * *" }, "body.cron"],
  ])("%j is 400, naming %s", async (body, field) => {
    const response = await api(galaxy, "POST", `/api/agents/${agentId}/triggers`, { token, body });
    expect(response.status, JSON.stringify(response.body)).toBe(400);
    expect(Object.keys((response.body as { details?: Record<string, string> }).details ?? {})).toContain(field);
  });
});

describe("a schedule every 2 seconds, with two registry processes", () => {
  let triggerId = "";

  test("each tick starts exactly one execution", async () => {
    const response = await api(galaxy, "POST", `/api/agents/${agentId}/triggers`, { token, body: { type: "schedule", cron: "*/2 * * * * *", timezone: "Europe/Paris", input: { message: "tick" } } });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    const trigger = dataOf(CreatedTrigger, response);
    expect(trigger).toMatchObject({ type: "schedule", cron: "*/2 * * * * *", timezone: "Europe/Paris", input: { message: "tick" }, url: null });
    expect(trigger.secret).toBeUndefined();
    triggerId = trigger.id;

    await eventually(async () => ((await executionsOf(triggerId)).length >= 3 ? true : undefined), 20_000, "three ticks");
    const ticks = (await queue.getJobs(["completed"], 0, -1)).filter((job) => job.data?.triggerId === triggerId && job.id);
    const executions = await executionsOf(triggerId);
    // Every completed tick started its one execution, and every execution is one tick's.
    const fromTicks = ticks.map((job) => tickExecutionId(triggerId, job.id ?? ""));
    for (const id of fromTicks) expect(executions).toContain(id);
    const active = (await queue.getJobs(["active", "completed"], 0, -1)).filter((job) => job.data?.triggerId === triggerId).map((job) => tickExecutionId(triggerId, job.id ?? ""));
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

  test("after Redis loses the schedule, the reconciler restores it from Postgres and the ticks go on", async () => {
    await deleteRedisKeys(galaxy.env.redisUrl, keyPrefix());
    expect(await schedulerIds()).not.toContain(triggerId);
    const before = (await executionsOf(triggerId)).length;
    expect(await second.schedules?.reconcile()).toEqual({ upserted: 1, removed: 0 });
    expect(await schedulerIds()).toContain(triggerId);
    await eventually(async () => ((await executionsOf(triggerId)).length > before ? true : undefined), 15_000, "a tick after the flush");
  }, 30_000);

  test("pausing the agent stops the ticks; activating it starts them again", async () => {
    expect((await api(galaxy, "POST", `/api/agents/${agentId}/pause`, { token })).status).toBe(200);
    await eventually(async () => ((await schedulerIds()).includes(triggerId) ? undefined : true), 10_000, "the scheduler to be retired");
    // A tick taken just before the pause may still finish: count once the scheduler is gone.
    await eventually(async () => ((await queue.getJobs(["active"])).length === 0 ? true : undefined), 10_000, "ticks in flight to finish");
    const paused = (await executionsOf(triggerId)).length;
    await new Promise((resolve) => setTimeout(resolve, 4_500));
    expect(await executionsOf(triggerId)).toHaveLength(paused);

    expect((await api(galaxy, "POST", `/api/agents/${agentId}/activate`, { token })).status).toBe(200);
    await eventually(async () => ((await executionsOf(triggerId)).length > paused ? true : undefined), 15_000, "ticks after activation");
  }, 40_000);

  test("deleting the trigger stops the ticks", async () => {
    expect((await api(galaxy, "DELETE", `/api/agents/${agentId}/triggers/${triggerId}`, { token })).status).toBe(204);
    expect(await schedulerIds()).not.toContain(triggerId);
    await eventually(async () => ((await queue.getJobs(["active"])).length === 0 ? true : undefined), 10_000, "ticks in flight to finish");
    const after = (await executionsOf(triggerId)).length;
    // Longer than two ticks and than the reconciler's period: nothing brings it back.
    await new Promise((resolve) => setTimeout(resolve, 4_500));
    expect(await executionsOf(triggerId)).toHaveLength(after);
    expect(await schedulerIds()).not.toContain(triggerId);
    const list = await api(galaxy, "GET", `/api/agents/${agentId}/triggers`, { token });
    expect(JSON.stringify(list.body)).not.toContain(triggerId);
  }, 30_000);
});
