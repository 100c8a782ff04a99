import { inject, test as base } from "vitest";
import { TestClaims } from "./claims";
import { createTestEnv } from "./env";
import { connectTestBus } from "./service";

/**
 * The fixtures most engine tests start from, each set up once per file and only when a test
 * (or a fixture it uses) asks for it:
 * - `env`: the file's own database, bus prefix and Redis key prefix on the shared engines;
 * - `claims`: a signer of workspace claims, whose keys an identity stand-in serves on the bus.
 * A service's own fixtures extend this `test` (`<service>/test/support/`).
 */
export const test = base
  .extend("env", { scope: "file" }, async ({}, { onCleanup }) => {
    const env = await createTestEnv(inject("engines"));
    onCleanup(() => env.cleanup());
    return env;
  })
  .extend("claims", { scope: "file" }, async ({ env }, { onCleanup }) => {
    const claims = await TestClaims.create();
    const identityBus = await connectTestBus(env, "identity");
    onCleanup(() => identityBus.close());
    await claims.serve(identityBus);
    return claims;
  });
