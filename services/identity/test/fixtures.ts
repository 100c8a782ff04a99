import { inject, test as base, type TestAPI } from "vitest";
import { startOncePerFile } from "@galaxy/testkit";
import type { IdentityDeps } from "../src/app";
import { startIdentityUnderTest, type IdentityUnderTest } from "./support/identity-under-test";

/** What a test may hand identity beyond its database, bus and logger. */
export type ExtraDeps = Partial<Omit<IdentityDeps, "db" | "bus" | "logger">>;

/** What a fixture is handed to clean up after itself. */
export interface Cleanup {
  onCleanup(cleanup: () => unknown): void;
}

/**
 * The fixtures of identity's engine tests, set up once per file:
 * - `running`: identity running on the file's own database and bus (support/identity-under-test.ts,
 *   with `extra` deps), started before the file's first test (`startIdentityFirst` on the file's
 *   final chain), and stopped after its last (which drops the database);
 * - `env`, `db`, `bus`, `identity`: its parts; `gateway`: its `caller`, the connection that calls it
 *   as the gateway would (a fixture may not be named `caller`: vitest reads it off a function).
 * A file's helpers that need one of them are fixtures of its own, extending this.
 */
export function identityTest(extra: ExtraDeps = {}) {
  return identityTestAfter(async () => undefined, () => extra);
}

/**
 * `identityTest()` on something of the file's own that identity needs before it starts
 * (`prelude`: an OIDC issuer, say), started by `start` before identity and cleaned up after it;
 * `extra` makes identity's extra deps from it.
 */
export function identityTestAfter<P>(start: (cleanup: Cleanup) => Promise<P>, extra: (prelude: P) => ExtraDeps) {
  const test = base
    .extend("prelude", { scope: "file" }, async ({}, { onCleanup }): Promise<P> => start({ onCleanup }))
    .extend("running", { scope: "file" }, async ({ prelude }, { onCleanup }): Promise<IdentityUnderTest> => {
      startOncePerFile("identity", "startIdentityFirst");
      const running = await startIdentityUnderTest(inject("engines"), extra(prelude));
      onCleanup(() => running.stop());
      return running;
    })
    .extend("env", { scope: "file" }, async ({ running }) => running.env)
    .extend("db", { scope: "file" }, async ({ running }) => running.db)
    .extend("bus", { scope: "file" }, async ({ running }) => running.bus)
    .extend("gateway", { scope: "file" }, async ({ running }) => running.caller)
    .extend("identity", { scope: "file" }, async ({ running }) => running.identity);
  return test;
}

/**
 * Starts the file's identity before the file's first test, under the hooks' time limit rather
 * than within the first test that names it. Call it once, on the chain the file's tests use,
 * after its last `.extend`: vitest keeps a file's fixtures per chain, so a hook on a chain
 * extended afterwards would start an identity of its own that no test uses (the `running`
 * fixture refuses to start a second one in a file).
 */
export function startIdentityFirst<C extends { running: IdentityUnderTest }>(test: TestAPI<C>): void {
  test.beforeAll(async ({ running }) => {
    void running;
  });
}

