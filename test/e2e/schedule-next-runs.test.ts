import { describe, expect } from "vitest";
import { z } from "zod";
import { Agent, CreatedTrigger, Pagination, SignupResult, Trigger } from "@galaxy/contracts";
import { galaxyTest, startGalaxyFirst } from "./fixtures";
import { api, dataOf, eventually } from "./harness";

/**
 * A schedule trigger says when it fires next (docs/webhooks.md, Schedules): `nextRunAt` and the
 * next three ticks, in its time zone, the same instant BullMQ's job scheduler holds; none while
 * its agent is paused.
 */

const Triggers = z.object({ data: z.array(Trigger), pagination: Pagination });

/** The local wall-clock time of an instant in a time zone, `HH:MM`. */
function localTime(iso: string, timeZone: string): string {
  return new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(new Date(iso));
}

/**
 * Set up before the first test: `token`, of a workspace with an active agent, `agentId`.
 * `listed`: a trigger of the agent, as its list shows it.
 */
const test = galaxyTest()
  .extend("token", { scope: "file", auto: true }, async ({ galaxy }) =>
    dataOf(SignupResult, await api(galaxy, "POST", "/api/auth/signup", { body: { email: "ticks@example.com", password: "correct horse battery", name: "Ticks", workspaceName: "Ticks" } })).accessToken)
  .extend("agentId", { scope: "file", auto: true }, async ({ galaxy, token }) => {
    const agentId = dataOf(Agent, await api(galaxy, "POST", "/api/agents", { token, body: { name: "Morning", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "Repeat." } })).id;
    expect((await api(galaxy, "POST", `/api/agents/${agentId}/activate`, { token })).status).toBe(200);
    return agentId;
  })
  .extend("listed", { scope: "file" }, async ({ galaxy, token, agentId }) => async (id: string): Promise<Trigger> => {
    const page = Triggers.parse((await api(galaxy, "GET", `/api/agents/${agentId}/triggers`, { token })).body);
    const trigger = page.data.find((t) => t.id === id);
    if (!trigger) throw new Error(`trigger ${id} is not listed`);
    return trigger;
  });
startGalaxyFirst(test);

describe("a schedule's next ticks", () => {
  test("at 09:00 in Paris: three ticks a day apart in Paris time, the first the one BullMQ's scheduler holds", async ({ galaxy, token, agentId, listed, scheduleQueue }) => {
    const before = Date.now();
    const created = dataOf(CreatedTrigger, await api(galaxy, "POST", `/api/agents/${agentId}/triggers`, { token, body: { type: "schedule", cron: "0 9 * * *", timezone: "Europe/Paris" } }));
    expect(created.nextRuns).toHaveLength(3);
    const trigger = await listed(created.id);
    const runs = trigger.nextRuns ?? [];
    expect(runs).toHaveLength(3);
    expect(trigger.nextRunAt).toBe(runs[0]);
    expect(Date.parse(runs[0] ?? "")).toBeGreaterThan(before);
    expect(Date.parse(runs[0] ?? "") - before).toBeLessThanOrEqual(24 * 3600 * 1000);
    expect(runs.map((run) => localTime(run, "Europe/Paris"))).toEqual(["09:00", "09:00", "09:00"]);
    expect(runs).toEqual([...runs].sort());
    // Made before the POST answers. (The reconciliation the agent's activation asked for used to
    // remove it when it ran at the same moment: test/e2e/schedules.test.ts, "a reconciliation pass".)
    const scheduler = await eventually(async () => (await scheduleQueue.getJobScheduler(created.id)) ?? undefined, 10_000, "the job scheduler");
    expect(scheduler.next).toBe(Date.parse(trigger.nextRunAt ?? ""));
  });

  test("a schedule with seconds lists ticks seconds apart; a webhook trigger has none", async ({ galaxy, token, agentId, listed }) => {
    const every = dataOf(CreatedTrigger, await api(galaxy, "POST", `/api/agents/${agentId}/triggers`, { token, body: { type: "schedule", cron: "0 */10 * * * *", timezone: "UTC" } }));
    const runs = (await listed(every.id)).nextRuns ?? [];
    expect(runs.map((run, i) => (i === 0 ? 0 : Date.parse(run) - Date.parse(runs[i - 1] ?? "")))).toEqual([0, 600_000, 600_000]);
    const webhook = dataOf(CreatedTrigger, await api(galaxy, "POST", `/api/agents/${agentId}/triggers`, { token, body: { type: "webhook" } }));
    expect(await listed(webhook.id)).toMatchObject({ nextRunAt: null, nextRuns: [] });
  });

  test("while the agent is paused its schedules have no next tick, and have them again once it is active", async ({ galaxy, token, agentId, listed }) => {
    const created = dataOf(CreatedTrigger, await api(galaxy, "POST", `/api/agents/${agentId}/triggers`, { token, body: { type: "schedule", cron: "15 6 * * 1-5", timezone: "Asia/Tokyo" } }));
    expect((await api(galaxy, "POST", `/api/agents/${agentId}/pause`, { token })).status).toBe(200);
    expect(await listed(created.id)).toMatchObject({ nextRunAt: null, nextRuns: [] });
    expect((await api(galaxy, "POST", `/api/agents/${agentId}/activate`, { token })).status).toBe(200);
    const runs = (await listed(created.id)).nextRuns ?? [];
    expect(runs.map((run) => localTime(run, "Asia/Tokyo"))).toEqual(["06:15", "06:15", "06:15"]);
  });
});
