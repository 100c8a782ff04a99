import { expect, test } from "vitest";
import { startOncePerFile } from "./once-per-file";

test("a second start of the same thing in one file throws, naming what starts it first; other things start freely", () => {
  startOncePerFile("harness", "startHarnessFirst");
  startOncePerFile("Galaxy", "startGalaxyFirst");
  expect(() => startOncePerFile("harness", "startHarnessFirst")).toThrow("a second harness in one test file: its tests and a hook use different chains (see startHarnessFirst)");
});
