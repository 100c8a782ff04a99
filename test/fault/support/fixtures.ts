import { test as base } from "vitest";
import { startOncePerFile } from "@galaxy/testkit";
import { World, type WorldOptions } from "./world";

/** Whether a test of the file failed: its Galaxy's logs are then kept (`World.stop`). */
export interface Failures {
  failed: boolean;
}

/**
 * The fault files' fixtures:
 * - `world`: a Galaxy of the file's own (its Postgres, nats-server, Redis and processes,
 *   support/world.ts), started once per file and stopped after its last test, keeping its logs
 *   when one of the file's tests failed;
 * - `failures`: what decides that, set by every test that fails (an automatic fixture).
 * The file starts its Galaxy, and what it sets up on it, in a `beforeAll` on the chain its tests
 * use, naming the last fixture it needs (vitest reads the names a hook destructures): under the
 * hooks' time limit, and once. A hook on another chain would start a second Galaxy, which `world`
 * refuses (vitest keeps a file's fixtures per chain).
 */
export function worldTest(name: string, options: WorldOptions = {}) {
  return base
    .extend("failures", { scope: "file" }, (): Failures => ({ failed: false }))
    .extend("world", { scope: "file" }, async ({ failures }, { onCleanup }): Promise<World> => {
      startOncePerFile("fault world", "worldTest");
      const world = await World.start(name, options);
      onCleanup(() => world.stop(failures.failed));
      return world;
    })
    .extend("keepLogsOfFailures", { auto: true }, ({ failures, onTestFailed }) => {
      onTestFailed(() => {
        failures.failed = true;
      });
    });
}
