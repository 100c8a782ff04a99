import { sql, type Kysely } from "kysely";

/** The old form: a bounded repeat, which PostgreSQL's regular expressions run slowly. */
const BOUNDED = (column: string) => `${column} ~ '^[0-9a-f]{64}$'`;
/** The same rule, exactly 64 lowercase hex digits, in a form that costs next to nothing per row. */
const COUNTED = (column: string) => `char_length(${column}) = 64 and ${column} !~ '[^0-9a-f]'`;

const CHECKS = { audit_logs: ["hash", "prev_hash"], audit_checkpoints: ["hash"] } as const;

/**
 * Each audit entry's `hash` and `prev_hash` (and a checkpoint's `hash`) must be 64 lowercase hex
 * digits. Written as `~ '^[0-9a-f]{64}$'`, the two checks of an entry were 10–20 µs of
 * PostgreSQL's CPU per entry inserted, a third of the insert; the length and a search for any
 * other character say the same within the noise of no check at all (docs/benchmarks.md,
 * "Replay, Postgres and audit's young generation: before and after").
 *
 * The new checks are added `not valid`: every row already in the tables passed the old checks,
 * which refuse exactly what the new ones refuse, so no table is read again under the lock a
 * migration takes (on a long audit log that read would hold audit's writes for its length).
 * New and changed rows are checked as with any constraint.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  for (const [table, columns] of Object.entries(CHECKS)) await replaceChecks(db, table, columns, COUNTED);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const [table, columns] of Object.entries(CHECKS)) await replaceChecks(db, table, columns, BOUNDED);
}

/** One `alter table` per table: each column's check dropped and added again in the new form, unvalidated. */
async function replaceChecks(db: Kysely<unknown>, table: string, columns: readonly string[], check: (column: string) => string): Promise<void> {
  const changes = columns.flatMap((column) => {
    const name = `${table}_${column}_check`;
    return [`drop constraint ${name}`, `add constraint ${name} check (${check(column)}) not valid`];
  });
  await sql.raw(`alter table audit.${table} ${changes.join(", ")}`).execute(db);
}
