import { describe, expect, test } from "vitest";
import { scheduleProblems } from "./schedule-spec";

describe("scheduleProblems", () => {
  test.each([
    ["*/5 * * * *", "UTC"],
    ["*/2 * * * * *", "UTC"],
    ["0 9 * * 1-5", "Europe/Paris"],
    ["30 8 1 * *", "America/New_York"],
  ])("given %s in %s, then the schedule can run", (cron, timezone) => {
    expect(scheduleProblems(cron, timezone)).toBeNull();
  });

  test.each([
    ["* * * *", "fewer than five fields"],
    ["* * * * * * *", "seven fields"],
    ["61 * * * *", "a minute out of range"],
    ["* * * 13 *", "a month out of range"],
    ["every day", "words"],
  ])("given %s (%s), then cron is named", (cron) => {
    expect(scheduleProblems(cron, "UTC")).toEqual({ cron: expect.any(String) });
  });

  test("given an unknown time zone, then timezone is named", () => {
    expect(scheduleProblems("* * * * *", "Mars/Olympus_Mons")).toEqual({ timezone: expect.stringContaining("Mars/Olympus_Mons") });
  });

  test("given both bad, then both are named", () => {
    expect(Object.keys(scheduleProblems("nope", "Nowhere/Land") ?? {}).sort()).toEqual(["cron", "timezone"]);
  });
});
