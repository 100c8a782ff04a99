import { connectTestBus, serviceDb, testLogger } from "@galaxy/testkit";
import { test as engineTest } from "@galaxy/testkit/fixtures";
import { createAgentRegistry, type AgentRegistry } from "../../src/app";
import type { RegistryDb } from "../../src/db";

/**
 * The agent registry running against the file's own database and bus (`env`, `claims`: the
 * testkit's), set up once per file when a test (or a fixture it uses) asks for it:
 * - `db`: the registry's login-role connection;
 * - `registryBus`, `registry`: the running service, stopped after the file's last test;
 * - `gatewayBus`: the gateway's bus, which makes requests once the registry serves them.
 */
export const registryTest = engineTest
  .extend("db", { scope: "file" }, async ({ env }, { onCleanup }) => {
    const db = serviceDb<RegistryDb>(env, "agent-registry");
    onCleanup(() => db.destroy());
    return db;
  })
  .extend("registryBus", { scope: "file" }, async ({ env }, { onCleanup }) => {
    const bus = await connectTestBus(env, "agent-registry");
    onCleanup(() => bus.close());
    return bus;
  })
  .extend("registry", { scope: "file" }, async ({ env, claims, db, registryBus }, { onCleanup }): Promise<AgentRegistry> => {
    // The claims' keys are served before the registry checks requests against them.
    void claims;
    const registry = createAgentRegistry({ db, bus: registryBus, logger: testLogger("agent-registry"), masterKey: env.masterKey });
    await registry.start();
    onCleanup(async () => {
      await registryBus.stopIntake();
      await registry.stop();
    });
    return registry;
  })
  .extend("gatewayBus", { scope: "file" }, async ({ env, registry }, { onCleanup }) => {
    void registry;
    const bus = await connectTestBus(env, "gateway");
    onCleanup(() => bus.close());
    return bus;
  });
