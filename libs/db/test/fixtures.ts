import { serviceDb, startOncePerFile } from "@galaxy/testkit";
import { test as engineTest } from "@galaxy/testkit/fixtures";
import type { TestAPI } from "vitest";
import { createDb, withUser, type Kysely } from "../src/connection";

/** What a file does to the identity schema before its tests: as its owner, then as its login role. */
export interface ScratchSetUp<DB> {
  /** Creates the file's tables (and functions) as a migration would. */
  create(owner: Kysely<unknown>): Promise<void>;
  /** Writes the rows the tests start from. */
  seed(db: Kysely<DB>): Promise<void>;
}

/**
 * Fixtures for tests of workspace transactions on tables of their own in the identity schema of
 * the file's database (`env`, the testkit's), each set up once per file:
 * - `owner`: the identity schema's owner on one connection, which ran `setUp.create`;
 * - `db`: identity's login role, as the service runs, which ran `setUp.seed`;
 * - `single`: the same login role on one connection, so a setting or an open transaction left
 *   behind would be seen.
 * The file calls {@link startScratchFirst} on the chain its tests use.
 */
export function scratchTest<DB>(setUp: ScratchSetUp<DB>) {
  const test = engineTest
    .extend("owner", { scope: "file" }, async ({ env }, { onCleanup }): Promise<Kysely<unknown>> => {
      startOncePerFile("scratch schema", "scratchTest");
      const owner = createDb<unknown>({ connectionString: env.databaseUrl, role: "galaxy_identity_owner", schema: "identity", max: 1 });
      onCleanup(() => owner.destroy());
      await setUp.create(owner);
      return owner;
    })
    .extend("db", { scope: "file" }, async ({ env, owner }, { onCleanup }): Promise<Kysely<DB>> => {
      // The tables exist before the login role writes to them.
      void owner;
      const db = serviceDb<DB>(env, "identity");
      onCleanup(() => db.destroy());
      await setUp.seed(db);
      return db;
    })
    .extend("single", { scope: "file" }, async ({ env, db }, { onCleanup }): Promise<Kysely<DB>> => {
      // The rows are written before a test reads them here.
      void db;
      const single = createDb<DB>({ connectionString: withUser(env.databaseUrl, "galaxy_identity"), schema: "identity", max: 1 });
      onCleanup(() => single.destroy());
      return single;
    });
  return test;
}

/**
 * Sets the scratch tables and rows up before the file's first test, under the hooks' time limit,
 * whichever fixtures it names: a test that only reads the catalogue still finds them. Called on
 * the chain the file's tests use (vitest keeps a file's fixtures per chain: a hook on a chain the
 * file then extended would set up a second database, which the guard in `owner` refuses).
 */
export function startScratchFirst<C extends { single: unknown }>(test: TestAPI<C>): void {
  test.beforeAll(async ({ single }) => {
    void single;
  });
}
