import { setTimeout as sleep } from "node:timers/promises";
import { performance } from "node:perf_hooks";
import { sql, type Kysely } from "@galaxy/db";
import { UNCOUNTED, type StatementCounter } from "./pg-statements";
import { summarize, type LatencySummary } from "./stats";

/** Cluster-wide write counters: transaction ids handed out (one per writing transaction) and WAL written. */
interface Counters {
  xid: number;
  walBytes: number;
}

async function read(db: Kysely<unknown>): Promise<Counters> {
  // pg_current_xact_id() gives this statement a transaction id of its own: counted out below.
  const result = await sql<{ xid: string; wal: string }>`${sql.raw(UNCOUNTED)} select pg_current_xact_id()::text as xid, pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text as wal`.execute(db);
  const row = result.rows[0];
  if (!row) throw new Error("no counters");
  return { xid: Number(row.xid), walBytes: Number(row.wal) };
}

/**
 * Waits until no transaction but our own probe writes for a few reads in a row (audit catching
 * up after the last event), at most `maxMs`.
 */
async function quiesce(db: Kysely<unknown>, maxMs: number): Promise<{ last: Counters; reads: number }> {
  const deadline = Date.now() + maxMs;
  let last = await read(db);
  let reads = 1;
  let quiet = 0;
  while (quiet < 3 && Date.now() < deadline) {
    await sleep(150);
    const now = await read(db);
    reads++;
    quiet = now.xid - last.xid <= 1 ? quiet + 1 : 0;
    last = now;
  }
  return { last, reads };
}

export interface WriteCost<T> {
  value: T;
  /** Statements sent to Postgres from this process per unit, by login role. */
  statementsPerUnit: Map<string, number>;
  transactionsPerUnit: number;
  walBytesPerUnit: number;
}

/**
 * What `fn` costs Postgres per unit of work: statements (counted in this process), writing
 * transactions and WAL (on the whole cluster), from a quiet start until all is quiet again.
 */
export async function measureWrites<T>(db: Kysely<unknown>, counter: StatementCounter, units: number, fn: () => Promise<T>): Promise<WriteCost<T>> {
  const before = (await quiesce(db, 3_000)).last;
  counter.reset();
  const value = await fn();
  const after = await quiesce(db, 5_000);
  const statements = counter.byRole();
  // Every probe read after `before` took an id of its own.
  const transactions = after.last.xid - before.xid - after.reads;
  return {
    value,
    statementsPerUnit: new Map([...statements].map(([role, count]) => [role, count / units])),
    transactionsPerUnit: transactions / units,
    walBytesPerUnit: (after.last.walBytes - before.walBytes) / units,
  };
}

/** What one Postgres round trip and one committed insert cost on this machine, timed on the bare pool. */
export async function calibrateRoundTrips(db: Kysely<unknown>, count = 300): Promise<{ roundTrip: LatencySummary; commit: LatencySummary }> {
  const time = async (statement: () => Promise<unknown>) => {
    const samples: number[] = [];
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      await statement();
      samples.push(performance.now() - t0);
    }
    return summarize(samples);
  };
  await time(() => sql`select 1`.execute(db));
  const roundTrip = await time(() => sql`select 1`.execute(db));
  const commit = await time(() => sql`insert into baseline.calibration default values`.execute(db));
  return { roundTrip, commit };
}
