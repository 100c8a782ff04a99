import type pg from "pg";
import { DefaultQueryExecutor, PostgresAdapter, PostgresDialect, PostgresQueryCompiler, SingleConnectionProvider, Transaction, type CompiledQuery, type Kysely } from "kysely";
import { FoldedOpeningConnection } from "./folded-connection";
import { poolOf } from "./connection";

/** A workspace id goes into the transaction's first round trip as a literal: only a UUID may. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Advisory lock names, likewise written as literals. */
const LOCK_NAME = /^[a-z0-9_.]+$/;

/**
 * What a workspace transaction's `Transaction` needs besides its executor: a dialect and driver
 * for introspection only. It opens no pool: the queries go through the client the transaction
 * holds.
 */
const DIALECT = new PostgresDialect({
  pool: async () => {
    throw new Error("a workspace transaction queries through its own connection only");
  },
});

/**
 * Shared by every workspace transaction: compiling is synchronous, so one compiler serves them
 * all, as one serves every query of a Kysely instance. Made per transaction, the compiler was
 * 3 % of what the worker allocated in the sustained benchmark (docs/benchmarks.md, "Where a
 * rebuild's allocations and Postgres's time go").
 */
const COMPILER = new PostgresQueryCompiler();
const ADAPTER = new PostgresAdapter();
const DRIVER = DIALECT.createDriver();

export interface WorkspaceTxOptions {
  /**
   * A transaction-scoped advisory lock taken before `fn` runs, in the same round trip as the
   * workspace (the scheduler's claim lock, so an intake that takes its execution at once counts
   * the workspace's running executions as a claim would).
   */
  advisoryLock?: string | undefined;
  /** `begin read only`: Postgres refuses any statement of the transaction that would write. */
  readOnly?: boolean | undefined;
}

/**
 * Runs `fn` in a transaction with `app.workspace_id` set for it alone, so row-level security
 * shows and accepts only that workspace's rows: a query that forgets its filter still sees
 * one workspace, or nothing.
 *
 * `begin`, the setting (the id checked as a UUID first) and the lock travel with the
 * transaction's first statement, in one message of the simple query protocol, its parameters
 * written in as literals (folded-connection.ts): a transaction of n statements takes n + 1
 * round trips, where Kysely's own would take n + 3 (`begin`, the setting, the statements,
 * `commit`). When `fn` answers its last statement as `atCommit(query, answer)`, that statement
 * travels with the commit: n statements, n round trips. The transaction holds one client of
 * the pool under `db` (`createDb` keeps it; a destroyed handle has none).
 */
export async function inWorkspace<DB, T>(db: Kysely<DB>, workspaceId: string, fn: (tx: Transaction<DB>) => Promise<T | CommitStatement<T>>, options: WorkspaceTxOptions = {}): Promise<T> {
  return onWorkspaceConnection(db, workspaceId, options, async (connection) => {
    const executor = new DefaultQueryExecutor(COMPILER, ADAPTER, new SingleConnectionProvider(connection), []);
    const tx = new Transaction<DB>({ config: { dialect: DIALECT }, dialect: DIALECT, driver: DRIVER, executor });
    const result = await fn(tx);
    if (!(result instanceof CommitStatement)) {
      await connection.commitWith(undefined);
      return result;
    }
    return result.answer(await connection.commitWith(result.query));
  });
}

/**
 * Runs `work` on a client of the pool under `db` (a handle made by `createDb`) whose first
 * statement opens the workspace's transaction; rolls back what a failure left open, and
 * releases the client (dropped by the pool when it broke).
 */
async function onWorkspaceConnection<T>(db: object, workspaceId: string, options: WorkspaceTxOptions, work: (connection: FoldedOpeningConnection) => Promise<T>): Promise<T> {
  const opening = openingOf(workspaceId, options).join("; ");
  const pool = poolOf(db);
  if (!pool) throw new Error("a workspace transaction needs a database handle made by createDb and not destroyed");
  const client = await pool.connect();
  const connection = new FoldedOpeningConnection(client, opening);
  let broken: Error | undefined;
  try {
    return await work(connection);
  } catch (error) {
    if (connection.opened) broken = await rollBack(client);
    throw error;
  } finally {
    client.release(broken);
  }
}

/**
 * Rolls back the transaction a failed statement left open on `client`. A connection that broke
 * cannot roll back: answers its error, which the pool takes to drop it on release (the error
 * that matters to the caller is the first).
 */
export async function rollBack(client: pg.PoolClient): Promise<Error | undefined> {
  try {
    await client.query("rollback");
    return undefined;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

/**
 * A workspace transaction's last statement, which `inWorkspace` sends with the commit in one
 * round trip (and with the opening too, when it is the only statement); `answer` makes the
 * transaction's answer of its rows. Made by `atCommit`.
 */
export class CommitStatement<T> {
  constructor(
    readonly query: CompiledQuery<unknown>,
    readonly answer: (rows: unknown[]) => T,
  ) {}
}

/** `query` as the last statement of the transaction `fn` runs in: see `CommitStatement`. */
export function atCommit<R, T>(query: CompiledQuery<R>, answer: (rows: R[]) => T): CommitStatement<T> {
  // The rows are the statement's, typed as Kysely types them: what the compiled query selects.
  return new CommitStatement(query, (rows) => answer(rows as R[]));
}

/**
 * One statement as a workspace transaction of its own, in ONE round trip: `begin`, the
 * workspace setting (and the advisory lock, if asked), the statement and `commit` travel as one
 * message. Row-level security applies exactly as in any `inWorkspace`. Answers its rows.
 */
export async function inWorkspaceAtOnce<DB, R>(db: Kysely<DB>, workspaceId: string, query: CompiledQuery<R>, options: WorkspaceTxOptions = {}): Promise<R[]> {
  // The rows are the statement's, typed as Kysely types them: what the compiled query selects.
  return onWorkspaceConnection(db, workspaceId, options, async (connection) => (await connection.commitWith(query)) as R[]);
}

/** `begin`, the workspace setting and the advisory lock as statements, the id and lock name checked before they are written as literals. */
function openingOf(workspaceId: string, options: WorkspaceTxOptions): string[] {
  const lock = options.advisoryLock;
  if (lock !== undefined && !LOCK_NAME.test(lock)) throw new Error(`not an advisory lock name: ${JSON.stringify(lock)}`);
  return [options.readOnly ? `begin read only` : `begin`, workspaceSetting(workspaceId), ...(lock === undefined ? [] : [`select pg_advisory_xact_lock(hashtext('${lock}'))`])];
}

/**
 * The statement that sets `app.workspace_id` for the transaction alone, the id checked as a
 * UUID before it is written as a literal. `set local` rather than `select set_config(…)`: it
 * answers no row, so the driver has no row description to read for it.
 */
export function workspaceSetting(workspaceId: string): string {
  if (!UUID.test(workspaceId)) throw new Error(`not a workspace id: ${JSON.stringify(workspaceId)}`);
  return `set local app.workspace_id = '${workspaceId.toLowerCase()}'`;
}
