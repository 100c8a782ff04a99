import { sql, SERVICE_SCHEMAS, type Kysely } from "@galaxy/db";

/**
 * The data of every schema as one fingerprint per table, read as the superuser. Left out: what
 * changes without any write of the caller's (the outbox's publication marks, the audit log
 * fed from the stream, idempotency records, an API key's last use, migration bookkeeping).
 *
 * Outbox tables are in it by the events they hold (`id`, `type`, `workspace_id`, not
 * `published_at`), so a refused write that still emits an event fails. Events of `security.*`
 * types are left out: a refusal legitimately reports them, some asynchronously (a
 * `security.cross_workspace_attempt` for a foreign resource's 404).
 */
const EXCLUDED_TABLES = new Set(["kysely_migration", "kysely_migration_lock"]);
const EXCLUDED_SCHEMAS = new Set(["audit"]);
const EXCLUDED_COLUMNS: Record<string, readonly string[]> = { "identity.api_keys": ["last_used_at"], "gateway.idempotency_keys": ["*"] };
/** An outbox is fingerprinted by these columns alone, and without `security.*` events. */
const OUTBOX_TABLE = "outbox";
const OUTBOX_COLUMNS: readonly string[] = ["id", "type", "workspace_id"];
const OUTBOX_FILTER = "type not like 'security.%'";

let snapshotSql: string | undefined;
async function fingerprintQuery(superuser: Kysely<unknown>): Promise<string> {
  if (snapshotSql) return snapshotSql;
  const schemas = Object.values(SERVICE_SCHEMAS).filter((s) => !EXCLUDED_SCHEMAS.has(s));
  const columns = await sql<{ schema: string; table: string; column: string }>`
    select c.table_schema as schema, c.table_name as table, c.column_name as column
    from information_schema.columns c join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
    where c.table_schema = any(${schemas}::text[]) and t.table_type = 'BASE TABLE'
    order by c.table_schema, c.table_name, c.ordinal_position`.execute(superuser);
  const tables = new Map<string, { columns: string[]; filter?: string }>();
  for (const { schema, table, column } of columns.rows) {
    const name = `${schema}.${table}`;
    const excluded = EXCLUDED_COLUMNS[name] ?? [];
    if (EXCLUDED_TABLES.has(table) || excluded.includes("*") || excluded.includes(column)) continue;
    if (table === OUTBOX_TABLE && !OUTBOX_COLUMNS.includes(column)) continue;
    const entry = tables.get(name) ?? { columns: [], ...(table === OUTBOX_TABLE ? { filter: OUTBOX_FILTER } : {}) };
    entry.columns.push(`"${column}"`);
    tables.set(name, entry);
  }
  if (tables.size < 10) throw new Error(`the fingerprint covers only ${[...tables.keys()].join(", ")}`);
  // Every outbox must be in it with all of its columns: a renamed column would silently leave it out.
  const outboxes = [...tables.entries()].filter(([name]) => name.endsWith(`.${OUTBOX_TABLE}`));
  if (outboxes.length < 3) throw new Error(`the fingerprint covers the outboxes of ${outboxes.map(([name]) => name).join(", ") || "no schema"} only`);
  for (const [name, { columns: cols }] of outboxes) if (cols.length !== OUTBOX_COLUMNS.length) throw new Error(`${name}: the fingerprint reads ${cols.join(", ")}, not ${OUTBOX_COLUMNS.join(", ")}`);
  snapshotSql = [...tables.entries()]
    .map(([name, { columns: cols, filter }]) => `select '${name}' as name, count(*)::int as rows, md5(coalesce(string_agg(r, E'\\n' order by r), '')) as hash from (select row(${cols.join(", ")})::text as r from ${name}${filter ? ` where ${filter}` : ""}) t`)
    .join(" union all ");
  return snapshotSql;
}

async function fingerprint(superuser: Kysely<unknown>): Promise<Record<string, string>> {
  const result = await sql<{ name: string; rows: number; hash: string }>`${sql.raw(await fingerprintQuery(superuser))}`.execute(superuser);
  return Object.fromEntries(result.rows.map((r) => [r.name, `${r.rows}:${r.hash}`]));
}

/**
 * What earlier cells set going and has not finished: unpublished outbox rows, executions not
 * yet run, agents the worker's projection has not caught up with, documents not yet indexed.
 * Zero when the system is at rest.
 */
const IN_FLIGHT = sql<{ busy: number }>`
  select ((select count(*) from identity.outbox where published_at is null)
       + (select count(*) from registry.outbox where published_at is null)
       + (select count(*) from execution.outbox where published_at is null)
       + (select count(*) from execution.executions where status in ('queued', 'running'))
       + (select count(*) from registry.knowledge_documents where status = 'pending')
       + (select count(*) from registry.agents r where not exists (
           select 1 from execution.agents e where e.agent_id = r.id and e.status = r.status and e.current_version = r.current_version))
       )::int as busy`;

/** The fingerprint once nothing is in flight and nothing moves for a moment. */
export async function settledFingerprint(superuser: Kysely<unknown>): Promise<Record<string, string>> {
  const deadline = Date.now() + 10_000;
  let previous: string | undefined;
  for (;;) {
    const busy = Number((await IN_FLIGHT.execute(superuser)).rows[0]?.busy);
    const current = await fingerprint(superuser);
    if (busy === 0 && JSON.stringify(current) === previous) return current;
    if (Date.now() > deadline) throw new Error(`the system did not come to rest in 10 s (${busy} in flight): a refused write cannot be checked against a moving database`);
    previous = busy === 0 ? JSON.stringify(current) : undefined;
    await new Promise((r) => setTimeout(r, 40));
  }
}

export function changedTables(before: Record<string, string>, after: Record<string, string>): string[] {
  return Object.keys({ ...before, ...after }).filter((name) => before[name] !== after[name]);
}
