import type { Bus } from "@galaxy/bus";
import type { Kysely } from "@galaxy/db";
import { connectTestBus, createTestEnv, serviceDb, testLogger, type EngineUrls, type TestEnv } from "@galaxy/testkit";
import { createIdentity, type IdentityDeps, type IdentityService } from "../../src/app";
import type { IdentityDb } from "../../src/db";

/** Identity running on a test's own database and bus, with a second connection to call it as the gateway would. */
export interface IdentityUnderTest {
  env: TestEnv;
  db: Kysely<IdentityDb>;
  /** Identity's own connection. */
  bus: Bus;
  /** A caller's connection (named "gateway"). */
  caller: Bus;
  identity: IdentityService;
  stop(): Promise<void>;
}

/** Starts identity for an integration test; `stop()` closes everything and drops the database. */
export async function startIdentityUnderTest(engines: EngineUrls, extra: Partial<Omit<IdentityDeps, "db" | "bus" | "logger">> = {}): Promise<IdentityUnderTest> {
  const env = await createTestEnv(engines);
  const db = serviceDb<IdentityDb>(env, "identity");
  let identity: IdentityService | undefined;
  const started = () => {
    if (!identity) throw new Error("identity is not started");
    return identity;
  };
  const bus = await connectTestBus(env, "identity", {
    loadJwks: async () => started().keys.publicJwks(),
    issueServiceClaim: (ws) => started().auth.issueServiceClaim(ws, "identity"),
  });
  identity = createIdentity({ db, bus, logger: testLogger("identity"), masterKey: env.masterKey, ...extra });
  await identity.start();
  const caller = await connectTestBus(env, "gateway");
  const running = identity;
  return {
    env,
    db,
    bus,
    caller,
    identity: running,
    async stop() {
      await caller.close();
      await bus.close();
      await running.stop();
      await db.destroy();
      await env.cleanup();
    },
  };
}
