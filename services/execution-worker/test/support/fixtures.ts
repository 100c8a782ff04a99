import { inject, test as base } from "vitest";
import type { ExecutionWorkerConfig } from "../../src/app";
import { startHarness, type Harness } from "./harness";

/**
 * `h`: the file's harness (harness.ts: engines of its own, identity's claims, a fake registry,
 * the dev model and a running worker with `config`), started before the file's first test,
 * under the hooks' time limit, and closed after its last.
 */
export function workerTest(config: Partial<ExecutionWorkerConfig> = {}) {
  const test = base.extend("h", { scope: "file" }, async ({}, { onCleanup }): Promise<Harness> => {
    const h = await startHarness(inject("engines"), config);
    onCleanup(() => h.close());
    return h;
  });
  test.beforeAll(async ({ h }) => {
    void h;
  });
  return test;
}
