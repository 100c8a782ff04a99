import { expect, test } from "vitest";
import { loadOnFirstUse } from "./load-on-first-use";

test("loads nothing until the first call, then once for every caller", async () => {
  let loads = 0;
  const load = loadOnFirstUse(async () => {
    loads += 1;
    return { loaded: loads };
  });
  expect(loads).toBe(0);
  const [first, second] = await Promise.all([load(), load()]);
  expect(await load()).toBe(first);
  expect(second).toBe(first);
  expect(loads).toBe(1);
});
