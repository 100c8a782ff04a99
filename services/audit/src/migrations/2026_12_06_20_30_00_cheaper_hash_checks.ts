import { sql, type Kysely } from "kysely";

/** The old form: a bounded repeat, which PostgreSQL's regular expressions run slowly. */
const BOUNDED = (column: string) => `${column} ~ '^[0-9a-f]{64}$'`;
/** The same rule, exactly 64 lowercase hex digits, in a form that costs next to nothing per row. */
const COUNTED = (column: string) => `char_length(${column}) = 64 and ${column} !~ '[^0-9a-f]'`;

const CHECKS = [
  { table: "audit_logs", column: "hash" },
  { table: "audit_logs", column: "prev_hash" },
  { table: "audit_checkpoints", column: "hash" },
] as const;

/**
 * Each audit entry's `hash` and `prev_hash` (and a checkpoint's `hash`) must be 64 lowercase hex
 * digits. Written as `~ '^[0-9a-f]{64}$'`, the two checks were about 11 µs of PostgreSQL's CPU
 * per entry, a third of what inserting an entry costs (docs/benchmarks.md, "Replay, Postgres and
 * audit's young generation"); the length and a search for any other character say the same for
 * about 0.5 µs.
 * Existing rows are checked once more when the constraint is added.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  for (const { table, column } of CHECKS) await replaceCheck(db, table, column, COUNTED(column));
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const { table, column } of CHECKS) await replaceCheck(db, table, column, BOUNDED(column));
}

async function replaceCheck(db: Kysely<unknown>, table: string, column: string, check: string): Promise<void> {
  const name = `${table}_${column}_check`;
  await sql.raw(`alter table audit.${table} drop constraint ${name}, add constraint ${name} check (${check})`).execute(db);
}
