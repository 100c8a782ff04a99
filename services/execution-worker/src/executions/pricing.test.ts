import { describe, expect, test } from "vitest";
import { MODEL_PRICES, costUsd, priceOf } from "./pricing";

describe("pricing", () => {
  test("the dev models are free", () => {
    expect(costUsd(priceOf("galaxy-dev-echo"), 1_000_000, 1_000_000)).toBe(0);
  });

  test("a priced model costs its per-million rates, to 8 decimals", () => {
    expect(costUsd(priceOf("gpt-4o"), 1_000_000, 1_000_000)).toBe(12.5);
    expect(costUsd(priceOf("gpt-4o-mini"), 1_234, 567)).toBe(0.0005253);
    expect(costUsd({ input: 3, output: 15 }, 1, 1)).toBe(0.000018);
    expect(costUsd(priceOf("gemini-2.5-flash"), 1_000_000, 1_000_000)).toBe(2.8);
  });

  test("an unknown model has no price and costs 0", () => {
    expect(priceOf("no-such-model")).toBeNull();
    expect(priceOf("toString")).toBeNull();
    expect(costUsd(null, 10, 10)).toBe(0);
  });

  test("every listed price is a non-negative rate", () => {
    for (const price of Object.values(MODEL_PRICES)) {
      expect(price.input).toBeGreaterThanOrEqual(0);
      expect(price.output).toBeGreaterThanOrEqual(0);
    }
  });
});
