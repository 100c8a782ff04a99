import { PostgresDialect, sql, Transaction, type Kysely } from "kysely";

/** A workspace id goes into the transaction's first round trip as a literal: only a UUID may. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Advisory lock names, likewise written as literals. */
const LOCK_NAME = /^[a-z0-9_.]+$/;

/**
 * What a transaction's `Transaction` needs besides the executor of its connection: a dialect
 * and driver for introspection only. It opens no pool: the queries go through the connection
 * the transaction holds.
 */
const DIALECT = new PostgresDialect({
  pool: async () => {
    throw new Error("a workspace transaction queries through its own connection only");
  },
});

export interface WorkspaceTxOptions {
  /**
   * A transaction-scoped advisory lock taken before `fn` runs, in the same round trip as the
   * workspace (the scheduler's claim lock, so an intake that takes its execution at once counts
   * the workspace's running executions as a claim would).
   */
  advisoryLock?: string | undefined;
}

/**
 * Runs `fn` in a transaction with `app.workspace_id` set for it alone, so row-level security
 * shows and accepts only that workspace's rows: a query that forgets its filter still sees
 * one workspace, or nothing.
 *
 * `begin` and the setting travel in one round trip (two statements of the simple query
 * protocol, the id checked as a UUID first): Kysely's own transaction would spend one on
 * `begin` and another on `set_config`, on every transaction of every service.
 */
export async function inWorkspace<DB, T>(db: Kysely<DB>, workspaceId: string, fn: (tx: Transaction<DB>) => Promise<T>, options: WorkspaceTxOptions = {}): Promise<T> {
  if (!UUID.test(workspaceId)) throw new Error(`not a workspace id: ${JSON.stringify(workspaceId)}`);
  const lock = options.advisoryLock;
  if (lock !== undefined && !LOCK_NAME.test(lock)) throw new Error(`not an advisory lock name: ${JSON.stringify(lock)}`);
  const opening = [`begin`, `select set_config('app.workspace_id', '${workspaceId.toLowerCase()}', true)`, ...(lock === undefined ? [] : [`select pg_advisory_xact_lock(hashtext('${lock}'))`])].join("; ");
  return db.connection().execute(async (connection) => {
    await sql.raw(opening).execute(connection);
    const tx = new Transaction<DB>({ config: { dialect: DIALECT }, dialect: DIALECT, driver: DIALECT.createDriver(), executor: connection.getExecutor() });
    let result: T;
    try {
      result = await fn(tx);
    } catch (error) {
      // A connection that broke cannot roll back; the pool drops it, and the error that matters is the first.
      await sql.raw("rollback").execute(connection).catch(() => undefined);
      throw error;
    }
    await sql.raw("commit").execute(connection);
    return result;
  });
}
