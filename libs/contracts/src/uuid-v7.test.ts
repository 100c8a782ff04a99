import { describe, expect, test } from "vitest";
import { uuidv7 } from "./uuid-v7";

describe("uuidv7", () => {
  test("makes valid version 7 UUIDs, with the time of their making in the first 48 bits", () => {
    const before = Date.now();
    const id = uuidv7();
    const after = Date.now();
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const ms = parseInt(id.replace(/-/g, "").slice(0, 12), 16);
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(after);
  });

  test("ids made one after another sort in the order they were made, across many refills of the random pool", () => {
    const ids = Array.from({ length: 20_000 }, () => uuidv7());
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 1; i < ids.length; i++) if (!((ids[i - 1] ?? "") < (ids[i] ?? ""))) throw new Error(`${ids[i - 1]} is not before ${ids[i]}`);
  });

  test("the bits after the counter are random: two ids in one millisecond differ beyond it", () => {
    const ids = Array.from({ length: 1_000 }, () => uuidv7());
    const tails = new Set(ids.map((id) => id.slice(-10)));
    expect(tails.size).toBeGreaterThan(990);
  });
});
