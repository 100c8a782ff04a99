import { describe, expect, test } from "vitest";
import type { Trigger } from "@galaxy/contracts";
import { nextRuns, withNextRuns } from "./next-runs";

const schedule: Trigger = {
  id: "0190a2b4-0000-7000-8000-000000000001",
  type: "schedule",
  agentId: "0190a2b4-0000-7000-8000-000000000002",
  workspaceId: "0190a2b4-0000-7000-8000-000000000003",
  url: null,
  cron: "0 9 * * *",
  timezone: "Europe/Paris",
  input: null,
  createdBy: "user",
  createdAt: "2026-03-01T00:00:00.000Z",
};

describe("a schedule's next ticks", () => {
  test("follow the time zone across a daylight saving change (Paris moves to UTC+2 on 29 March 2026)", () => {
    expect(nextRuns("0 9 * * *", "Europe/Paris", Date.parse("2026-03-27T12:00:00Z"))).toEqual([
      "2026-03-28T08:00:00.000Z",
      "2026-03-29T07:00:00.000Z",
      "2026-03-30T07:00:00.000Z",
    ]);
  });

  test("come strictly after now, and take seconds when the expression has six fields", () => {
    expect(nextRuns("*/2 * * * * *", "UTC", Date.parse("2026-12-05T10:00:00.000Z"), 3)).toEqual(["2026-12-05T10:00:02.000Z", "2026-12-05T10:00:04.000Z", "2026-12-05T10:00:06.000Z"]);
    expect(nextRuns("30 14 * * 1", "America/New_York", Date.parse("2026-12-05T10:00:00Z"), 1)).toEqual(["2026-12-07T19:30:00.000Z"]);
  });

  test("an active agent's schedule has them; a paused agent's schedule and a webhook have none", () => {
    const now = Date.parse("2026-03-27T12:00:00Z");
    expect(withNextRuns(schedule, "active", now)).toMatchObject({ nextRunAt: "2026-03-28T08:00:00.000Z", nextRuns: ["2026-03-28T08:00:00.000Z", "2026-03-29T07:00:00.000Z", "2026-03-30T07:00:00.000Z"] });
    expect(withNextRuns(schedule, "paused", now)).toMatchObject({ nextRunAt: null, nextRuns: [] });
    expect(withNextRuns({ ...schedule, type: "webhook", cron: null, timezone: null, url: "/hooks/x" }, "active", now)).toMatchObject({ nextRunAt: null, nextRuns: [] });
  });
});
