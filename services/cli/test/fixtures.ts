import type { Kysely } from "@galaxy/db";
import { createIdentity, type IdentityDb, type IdentityService } from "@galaxy/identity";
import { connectTestBus, serviceDb, testLogger } from "@galaxy/testkit";
import { test as engineTest } from "@galaxy/testkit/fixtures";
import { runCli } from "../src/program";

/**
 * What the CLI's tests share, each set up once per file on the testkit's `env` (the file's own
 * database and bus prefix):
 * - `db`: identity's login role on the file's database;
 * - `identity`: identity running on it and on a bus of its own (keys activate after a minute),
 *   which answers the CLI's operator claim;
 * - `galaxy`: runs `galaxy <argv>` in this process against the file's bus; what it printed and
 *   its exit code.
 */
export const cliTest = engineTest
  .extend("db", { scope: "file" }, async ({ env }, { onCleanup }): Promise<Kysely<IdentityDb>> => {
    const db = serviceDb<IdentityDb>(env, "identity");
    onCleanup(() => db.destroy());
    return db;
  })
  .extend("identity", { scope: "file" }, async ({ env, db }, { onCleanup }): Promise<IdentityService> => {
    let identity: IdentityService | undefined;
    const started = () => {
      if (!identity) throw new Error("identity is not started");
      return identity;
    };
    const identityBus = await connectTestBus(env, "identity", {
      loadJwks: async () => started().keys.publicJwks(),
      issueServiceClaim: (ws) => started().auth.issueServiceClaim(ws, "identity"),
    });
    onCleanup(async () => {
      await identityBus.close();
      await identity?.stop();
    });
    identity = createIdentity({ db, bus: identityBus, logger: testLogger("identity"), masterKey: env.masterKey, keyActivationDelayMs: 60_000, keyRefreshIntervalMs: 200 });
    await identity.start();
    await identityBus.flush();
    return identity;
  })
  .extend("galaxy", { scope: "file" }, async ({ env }) => async (...argv: string[]): Promise<{ code: number; out: string; err: string }> => {
    let out = "";
    let err = "";
    const code = await runCli(argv, {
      out: (text) => (out += `${text}\n`),
      err: (text) => (err += `${text}\n`),
      env: { NATS_URL: env.natsUrl, GALAXY_BUS_PREFIX: env.busPrefix, GALAXY_CLI_TIMEOUT_MS: "5000" },
    });
    return { code, out, err };
  });
