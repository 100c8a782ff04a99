import { sql, type Kysely, type Transaction } from "kysely";

/**
 * Runs `fn` in a transaction with `app.workspace_id` set for it alone, so row-level security
 * shows and accepts only that workspace's rows: a query that forgets its filter still sees
 * one workspace, or nothing.
 */
export async function inWorkspace<DB, T>(db: Kysely<DB>, workspaceId: string, fn: (tx: Transaction<DB>) => Promise<T>): Promise<T> {
  return db.transaction().execute(async (tx) => {
    await sql`select set_config('app.workspace_id', ${workspaceId}, true)`.execute(tx);
    return fn(tx);
  });
}
