import { inject, test as base, type TestAPI } from "vitest";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { scheduleQueueName } from "@galaxy/agent-registry";
import { SignupResult } from "@galaxy/contracts";
import { createDb, type Kysely } from "@galaxy/db";
import type { ExecutionDb } from "@galaxy/execution-worker";
import { serviceDb, startLocalOidcIssuer, startOncePerFile, type EngineUrls, type LocalOidcIssuer } from "@galaxy/testkit";
import { api, dataOf, startGalaxy, type Galaxy, type GalaxyOptions } from "./harness";

/** The password every user of the e2e tests signs up with. */
export const PASSWORD = "correct horse battery";

/**
 * A Galaxy of the file's own (harness.ts: every service in-process on the file's database, bus
 * prefix and Redis prefix), started once per file before its first test (`startGalaxyFirst` on the
 * file's final chain), stopped after its last:
 * - `galaxy`: the running system, its URL and engines;
 * - `superuser`: the bootstrap connection to its database, which sees every schema and row;
 * - `workerDb`: a connection as the execution worker's role, to its tables (opened when a test names it);
 * - `scheduleQueue`: the BullMQ queue of the registry's schedules, on its own Redis connection (opened when a test names it);
 * - `signUp`: signs a new user up, with a workspace of their own (named after the email unless told).
 */
export function galaxyTest(options: GalaxyOptions = {}) {
  return galaxyTestAfter(async () => undefined, () => ({ options }));
}

/**
 * `galaxyTest()` on something of the file's own that Galaxy needs before it starts (`prelude`:
 * an issuer, a Redis or NATS server), started by `start` before Galaxy and cleaned up after it;
 * `configure` makes Galaxy's engines (the shared ones unless told) and options from it.
 */
export function galaxyTestAfter<P>(start: (cleanup: Cleanup) => Promise<P>, configure: (prelude: P) => { engines?: Partial<EngineUrls>; options?: GalaxyOptions }) {
  const test = base
    .extend("prelude", { scope: "file" }, async ({}, { onCleanup }): Promise<P> => start({ onCleanup }))
    .extend("galaxy", { scope: "file" }, async ({ prelude }, { onCleanup }): Promise<Galaxy> => {
      startOncePerFile("Galaxy", "startGalaxyFirst");
      const { engines = {}, options = {} } = configure(prelude);
      const galaxy = await startGalaxy({ ...inject("engines"), ...engines }, options);
      onCleanup(() => galaxy.stop());
      return galaxy;
    })
    .extend("superuser", { scope: "file" }, openSuperuser)
    .extend("workerDb", { scope: "file" }, openWorkerDb)
    .extend("scheduleQueue", { scope: "file" }, openScheduleQueue)
    .extend("signUp", { scope: "file" }, signUpOn);
  return test;
}

/**
 * Starts the file's Galaxy (and its prelude) before the file's first test, under the hooks' time
 * limit rather than within the first test that names it. Call it once, on the chain the file's
 * tests use, after its last `.extend`: vitest keeps a file's fixtures per chain, so a hook on a
 * chain extended afterwards would start a Galaxy of its own that no test uses (the `galaxy`
 * fixture refuses to start a second one in a file).
 */
export function startGalaxyFirst<C extends { galaxy: Galaxy }>(test: TestAPI<C>, timeoutMs?: number): void {
  test.beforeAll(async ({ galaxy }) => {
    void galaxy;
  }, timeoutMs);
}


/**
 * `galaxyTest()` with a local OIDC issuer (`issuer`, started with `issuerOptions` before Galaxy
 * and closed after it), for a Galaxy configured with it: `options` are made from the issuer.
 */
export function issuerGalaxyTest(options: (issuer: LocalOidcIssuer) => GalaxyOptions, issuerOptions: { audience?: string } = {}) {
  return galaxyTestAfter(
    async ({ onCleanup }) => {
      const issuer = await startLocalOidcIssuer(issuerOptions);
      onCleanup(() => issuer.close());
      return issuer;
    },
    (issuer) => ({ options: options(issuer) }),
  ).extend("issuer", { scope: "file" }, async ({ prelude }) => prelude);
}

/** What a fixture is handed to clean up after itself. */
export interface Cleanup {
  onCleanup(cleanup: () => unknown): void;
}

async function openSuperuser({ galaxy }: { galaxy: Galaxy }, { onCleanup }: Cleanup): Promise<Kysely<unknown>> {
  const superuser = createDb<unknown>({ connectionString: galaxy.env.databaseUrl, max: 2 });
  onCleanup(() => superuser.destroy());
  return superuser;
}

async function openWorkerDb({ galaxy }: { galaxy: Galaxy }, { onCleanup }: Cleanup): Promise<Kysely<ExecutionDb>> {
  const workerDb = serviceDb<ExecutionDb>(galaxy.env, "execution-worker");
  onCleanup(() => workerDb.destroy());
  return workerDb;
}

async function openScheduleQueue({ galaxy }: { galaxy: Galaxy }, { onCleanup }: Cleanup): Promise<Queue> {
  const connection = new Redis(galaxy.env.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(scheduleQueueName(galaxy.env.busPrefix), { connection, prefix: `${galaxy.env.redisPrefix}bull` });
  onCleanup(async () => {
    await queue.close();
    connection.disconnect();
  });
  return queue;
}

async function signUpOn({ galaxy }: { galaxy: Galaxy }) {
  return async (email: string, workspaceName = email.split("@")[0] ?? email) =>
    dataOf(SignupResult, await api(galaxy, "POST", "/api/auth/signup", { body: { email, password: PASSWORD, name: email, workspaceName } }));
}
