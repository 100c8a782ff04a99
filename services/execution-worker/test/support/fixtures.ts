import { inject, test as base, type TestAPI } from "vitest";
import { OutboxRelay } from "@galaxy/db";
import { startOncePerFile, testLogger, type EngineUrls } from "@galaxy/testkit";
import type { ExecutionWorkerConfig } from "../../src/app";
import { BatchIntake } from "../../src/executions/batch-intake";
import { Intake } from "../../src/executions/intake";
import { startHarness, type Harness } from "./harness";

/** What a fixture is handed to clean up after itself. */
export interface Cleanup {
  onCleanup(cleanup: () => unknown): void;
}

/**
 * The file's fixtures, each set up once per file:
 * - `h`: the file's harness (harness.ts: engines of its own, identity's claims, a fake registry,
 *   the dev model and a running worker with `config`), started before the file's first test,
 *   under the hooks' time limit, and closed after its last;
 * - `relay`: an outbox relay on the worker's pool and bus, never started (what a test hands
 *   the intake or the pipeline), stopped before the harness closes.
 */
export function workerTest(config: Partial<ExecutionWorkerConfig> = {}) {
  return workerTestAfter(async () => undefined, () => inject("engines"), config);
}

/**
 * `workerTest()` on something of the file's own that the harness needs before it starts
 * (`prelude`: a Postgres of its own, say), started by `start` before the harness and cleaned up
 * after it; `engines` makes the harness's engines from it (both started by `startHarnessFirst`).
 */
export function workerTestAfter<P>(start: (cleanup: Cleanup) => Promise<P>, engines: (prelude: P) => EngineUrls, config: Partial<ExecutionWorkerConfig> = {}) {
  const test = base
    .extend("prelude", { scope: "file" }, async ({}, { onCleanup }): Promise<P> => start({ onCleanup }))
    .extend("h", { scope: "file" }, async ({ prelude }, { onCleanup }): Promise<Harness> => {
      startOncePerFile("worker harness", "startHarnessFirst");
      const h = await startHarness(engines(prelude), config);
      onCleanup(() => h.close());
      return h;
    })
    .extend("relay", { scope: "file" }, async ({ h }, { onCleanup }): Promise<OutboxRelay> => {
      const relay = new OutboxRelay({ db: h.db, publish: (row) => h.bus.publishEvent(row), logger: testLogger("execution-worker") });
      onCleanup(() => relay.stop());
      return relay;
    });
  return test;
}

/**
 * Starts the file's harness (and its prelude) before the file's first test, under
 * `setupTimeoutMs` (the hooks' time limit unless told) rather than within the first test that
 * names it. Call it once, on the chain the file's tests use, after its last `.extend`: vitest
 * keeps a file's fixtures per chain, so a hook on a chain extended afterwards would start a
 * harness of its own that no test uses (the `h` fixture refuses to start a second one in a file).
 */
export function startHarnessFirst<C extends { h: Harness }>(test: TestAPI<C>, setupTimeoutMs?: number): void {
  test.beforeAll(async ({ h }) => {
    void h;
  }, setupTimeoutMs);
}


/**
 * `workerTest()` with `batch`: a batch intake of its own, as lease owner `owner`, beside the
 * worker's. It finds no free place: every delivery is queued, and the workspace is known to have
 * executions waiting.
 */
export function batchIntakeTest(owner: string) {
  return workerTest().extend("batch", { scope: "file" }, async ({ h, relay }): Promise<BatchIntake> => {
    const deps = { db: h.db, bus: h.bus, relay, owner, leaseMs: 30_000, reserve: () => null, onQueued: () => undefined };
    return new BatchIntake({ ...deps, intake: new Intake(deps) });
  });
}
