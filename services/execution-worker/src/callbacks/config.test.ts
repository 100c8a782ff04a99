import { describe, expect, test } from "vitest";
import { callbackSettingsFromEnv, DEFAULT_CALLBACK_SETTINGS, retryDelayMs } from "./config";

describe("retryDelayMs", () => {
  const settings = { backoffBaseMs: 1_000, backoffMaxMs: 60_000 };

  test("doubles with each failed attempt, between half and all of the doubled delay", () => {
    expect([1, 2, 3, 4].map((attempt) => retryDelayMs(attempt, settings, () => 0))).toEqual([500, 1_000, 2_000, 4_000]);
    expect([1, 2, 3, 4].map((attempt) => retryDelayMs(attempt, settings, () => 1))).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(retryDelayMs(3, settings, () => 0.5)).toBe(3_000);
  });

  test("never waits longer than the cap, however many attempts failed", () => {
    expect(retryDelayMs(7, settings, () => 1)).toBe(60_000);
    expect(retryDelayMs(500, settings, () => 1)).toBe(60_000);
    expect(retryDelayMs(500, settings, () => 0)).toBe(30_000);
  });

  test("with the defaults, a receiver that stays down is tried for 24 hours, about 30 times", () => {
    let elapsed = 0;
    let attempts = 1;
    while (elapsed + retryDelayMs(attempts, DEFAULT_CALLBACK_SETTINGS, () => 1) <= DEFAULT_CALLBACK_SETTINGS.retryWindowMs) {
      elapsed += retryDelayMs(attempts, DEFAULT_CALLBACK_SETTINGS, () => 1);
      attempts += 1;
    }
    expect(attempts).toBeGreaterThan(20);
    expect(attempts).toBeLessThan(40);
  });
});

describe("callbackSettingsFromEnv", () => {
  test("unset variables take their defaults; set ones are parsed as integers", () => {
    expect(callbackSettingsFromEnv({})).toEqual(DEFAULT_CALLBACK_SETTINGS);
    expect(callbackSettingsFromEnv({ CALLBACK_BACKOFF_BASE_MS: "250", CALLBACK_TIMEOUT_MS: "2000" })).toMatchObject({ backoffBaseMs: 250, timeoutMs: 2_000 });
  });

  test("a bad value stops the worker, naming the variable", () => {
    expect(() => callbackSettingsFromEnv({ CALLBACK_BACKOFF_BASE_MS: "soon" })).toThrow(/CALLBACK_BACKOFF_BASE_MS/);
    expect(() => callbackSettingsFromEnv({ CALLBACK_TIMEOUT_MS: "0" })).toThrow(/CALLBACK_TIMEOUT_MS/);
  });
});
