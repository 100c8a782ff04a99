import { describe, expect, test } from "vitest";
import { concurrencyByTier, monthOf, secondsUntilNextMonth, TIERS } from "./tiers";

describe("tiers", () => {
  test("each tier allows more than the one below it", () => {
    for (const key of ["concurrency", "monthlyTokens", "maxQueued"] as const) {
      expect(TIERS.free[key]).toBeLessThan(TIERS.pro[key]);
      expect(TIERS.pro[key]).toBeLessThan(TIERS.enterprise[key]);
    }
    expect(concurrencyByTier()).toEqual({ free: TIERS.free.concurrency, pro: TIERS.pro.concurrency, enterprise: TIERS.enterprise.concurrency });
  });

  test("a month is its first day in UTC, and a spent budget renews when the next begins", () => {
    expect(monthOf(new Date("2026-11-30T23:59:59.000Z"))).toBe("2026-11-01");
    expect(monthOf(new Date("2026-12-01T00:00:00.000Z"))).toBe("2026-12-01");
    expect(secondsUntilNextMonth(new Date("2026-12-31T23:59:00.000Z"))).toBe(60);
    expect(secondsUntilNextMonth(new Date("2026-11-30T23:59:59.999Z"))).toBe(1);
  });
});
