import type pg from "pg";
import type { CompiledQuery, DatabaseConnection, QueryResult } from "kysely";
import { inlineParameters } from "./inline-parameters";

/**
 * A connection of a workspace transaction that sends the transaction's opening (`begin`, the
 * workspace setting, the advisory lock) in the same round trip as its first statement: one
 * message of the simple query protocol, the statement's parameters written in as literals
 * (inline-parameters.ts). Every later statement goes as usual. A first statement whose
 * parameters cannot be literals has the opening sent alone before it, as before.
 */
export class FoldedOpeningConnection implements DatabaseConnection {
  private opening: string | undefined;

  constructor(
    private readonly client: pg.PoolClient,
    opening: string,
  ) {
    this.opening = opening;
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const opening = this.opening;
    this.opening = undefined;
    if (opening !== undefined) {
      const statement = inlineParameters(query.sql, query.parameters);
      if (statement !== undefined) {
        const results: unknown = await this.client.query(`${opening};\n${statement}`);
        return resultOf(Array.isArray(results) ? results.at(-1) : results);
      }
      await this.client.query(opening);
    }
    return resultOf(await this.client.query(query.sql, [...query.parameters]));
  }

  /** Whether the opening was sent: a transaction that ran no statement has nothing to commit or roll back. */
  get opened(): boolean {
    return this.opening === undefined;
  }

  /**
   * Commits, with `last` (the transaction's last statement, if any) in the same round trip, and
   * the opening too if nothing carried it yet: a transaction of one statement then takes one
   * round trip. Answers `last`'s rows.
   */
  async commitWith(last: CompiledQuery | undefined): Promise<unknown[]> {
    const statement = last ? inlineParameters(last.sql, last.parameters) : undefined;
    if (last && statement === undefined) {
      const { rows } = await this.executeQuery(last);
      await this.client.query("commit");
      return rows;
    }
    if (statement === undefined && !this.opened) return [];
    const opening = this.opening;
    this.opening = undefined;
    const parts = [opening, statement, "commit"].filter((part) => part !== undefined);
    const results: unknown = await this.client.query(parts.join(";\n"));
    return statement === undefined ? [] : resultOf(Array.isArray(results) ? results.at(-2) : undefined).rows;
  }

  streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error("a workspace transaction does not stream query results");
  }
}

/** A node-postgres result as Kysely's own Postgres connection answers it. */
function resultOf<R>(result: unknown): QueryResult<R> {
  if (typeof result !== "object" || result === null) throw new Error("Postgres gave no result for the statement");
  const command = "command" in result && typeof result.command === "string" ? result.command : "";
  const rowCount = "rowCount" in result && typeof result.rowCount === "number" ? result.rowCount : 0;
  // The rows are the statement's, typed as Kysely types them: what the compiled query selects.
  const rows = ("rows" in result && Array.isArray(result.rows) ? result.rows : []) as R[];
  const affected = command === "INSERT" || command === "UPDATE" || command === "DELETE" || command === "MERGE";
  return affected ? { numAffectedRows: BigInt(rowCount), rows } : { rows };
}
