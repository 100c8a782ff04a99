import { sql, type Kysely } from "@galaxy/db";
import type { ExecutionDb } from "../../src/db";
import { CLAIM_LOCK } from "../../src/executions/intake";

/** Holds the scheduler's claim lock on a connection of its own until `release` is called. */
export async function holdClaimLock(db: Kysely<ExecutionDb>): Promise<{ release: () => Promise<void> }> {
  let release = () => undefined as void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let locked = () => undefined as void;
  const held = new Promise<void>((resolve) => (locked = resolve));
  const done = db.connection().execute(async (connection) => {
    await sql`begin`.execute(connection);
    await sql`select pg_advisory_xact_lock(hashtext(${CLAIM_LOCK}))`.execute(connection);
    locked();
    await released;
    await sql`commit`.execute(connection);
  });
  await Promise.race([held, done]);
  return {
    release: async () => {
      release();
      await done;
    },
  };
}

/**
 * The statement a transaction of the workspace waits for an advisory lock with (its id is a
 * literal of the transaction's first message), or null when none waits. Postgres shows a
 * message's first kilobyte.
 */
export async function statementWaitingForALock(db: Kysely<ExecutionDb>, workspaceId: string): Promise<string | null> {
  const result = await sql<{ query: string }>`
    select a.query from pg_locks l join pg_stat_activity a on a.pid = l.pid
     where l.locktype = 'advisory' and not l.granted and a.query like ${`%${workspaceId}%`}`.execute(db);
  return result.rows[0]?.query ?? null;
}
