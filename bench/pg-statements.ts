import { createRequire } from "node:module";

/** Statements tagged with this comment (the benchmarks' own probes) are not counted. */
export const UNCOUNTED = "/* bench:uncounted */";

interface QueryTarget {
  connectionParameters?: { user?: unknown };
}
type Query = (this: QueryTarget, ...args: unknown[]) => unknown;
interface QueryPrototype {
  query: Query;
}

function isQueryPrototype(value: unknown): value is QueryPrototype {
  return typeof value === "object" && value !== null && "query" in value && typeof value.query === "function";
}

/**
 * The prototype of node-postgres' `Client`, as `@galaxy/db` loads it: the same module instance
 * every service of this process queries through.
 */
function clientPrototype(): QueryPrototype {
  const pg: unknown = createRequire(new URL("../libs/db/package.json", import.meta.url))("pg");
  const client = typeof pg === "object" && pg !== null && "Client" in pg && typeof pg.Client === "function" ? pg.Client : undefined;
  const prototype: unknown = client?.prototype;
  if (!isQueryPrototype(prototype)) throw new Error("node-postgres' Client.prototype.query was not found");
  return prototype;
}

function statementText(first: unknown): string {
  if (typeof first === "string") return first;
  if (typeof first === "object" && first !== null && "text" in first && typeof first.text === "string") return first.text;
  return "";
}

/**
 * Counts the statements (round trips) sent to Postgres from this process, by login role, while
 * running. It wraps `Client.prototype.query` of node-postgres; Postgres' own statement counters
 * (`pg_stat_statements`) are not loaded on these machines.
 */
export class StatementCounter {
  private readonly counts = new Map<string, number>();
  private original: Query | undefined;

  start(): void {
    if (this.original) return;
    const prototype = clientPrototype();
    const original = prototype.query;
    const counts = this.counts;
    prototype.query = function (this: QueryTarget, ...args: unknown[]) {
      if (!statementText(args[0]).startsWith(UNCOUNTED)) {
        const user = typeof this.connectionParameters?.user === "string" ? this.connectionParameters.user : "unknown";
        counts.set(user, (counts.get(user) ?? 0) + 1);
      }
      return original.apply(this, args);
    };
    this.original = original;
  }

  stop(): void {
    if (!this.original) return;
    clientPrototype().query = this.original;
    this.original = undefined;
  }

  reset(): void {
    this.counts.clear();
  }

  /** Statements per role since the last reset. */
  byRole(): Map<string, number> {
    return new Map(this.counts);
  }
}
