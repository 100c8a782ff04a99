import { sql, type Kysely } from "kysely";
import { createSecurityDefinerFunction, type Migration } from "./migrations";
import type { ServiceName } from "./connection";

/**
 * Keeps a service's outbox small; a migration of each service with an outbox calls it once.
 * `outbox_prune(older_than_ms, limit)` deletes published rows made longer ago than that, the
 * oldest first: the relay calls it after each sweep (`OutboxRelay`, `retainPublishedMs`). Rows
 * are found by id, a UUIDv7 whose first 48 bits are the time it was made, so the primary key
 * serves; a row not yet published is never deleted, however old.
 */
export async function createOutboxRetention(db: Kysely<unknown>, service: ServiceName): Promise<void> {
  await createSecurityDefinerFunction(db, service, {
    name: "outbox_prune",
    args: "p_older_than_ms bigint, p_limit int",
    returns: "int",
    volatility: "volatile",
    body: `with old as (
             select id from outbox
              where id < (lpad(to_hex((extract(epoch from now()) * 1000)::bigint - p_older_than_ms), 12, '0') || '70008000000000000000')::uuid
                and published_at is not null
              order by id
              limit p_limit
                for update skip locked
           ), gone as (
             delete from outbox o using old where o.id = old.id returning 1
           )
           select count(*)::int from gone`,
    reason: "The outbox relay deletes published events of any workspace once they are older than its retention.",
  });
}

/**
 * The migration that gives an existing outbox its retention (`createOutboxRetention`), the same
 * for every service with an outbox: until it, every event stayed in the outbox for good, the
 * signed claim with it.
 */
export function outboxRetentionMigration(service: ServiceName): Migration {
  return {
    up: (db: Kysely<unknown>) => createOutboxRetention(db, service),
    down: async (db: Kysely<unknown>) => {
      await sql`drop function if exists outbox_prune(bigint, int)`.execute(db);
    },
  };
}
