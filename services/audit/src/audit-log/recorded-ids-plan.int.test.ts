import { randomUUID } from "node:crypto";
import { expect } from "vitest";
import { sql } from "@galaxy/db";
import { RECORDED_BY_WORKSPACE } from "../migrations/2026_12_04_23_00_00_append_entries";
import { RECORDED_PLANNED_EACH_CALL, RECORDED_QUERY } from "../migrations/2026_12_07_15_00_00_append_entries_plans_probe_each_call";
import { auditTest } from "../../test/support/audit-fixtures";

// `audit.append_entries` asks which of a batch's ids are entries of the workspace already. Its
// plan must look each id up, not read the workspace's whole log: on a log PostgreSQL has no
// statistics for yet, the first way of asking did the latter. (What a plan kept from the log's
// first minutes does is recorded-ids-young-log.int.test.ts.)
const test = auditTest();

const ENTRIES = 20_000;

/** The first way of asking as PL/pgSQL ran it, with `ws` and the batch's ids as parameters `$1` and `$2`. */
const firstWayPrepared = RECORDED_BY_WORKSPACE.replace("into recorded", "").replace("g->'ids'", "$2").replace("= ws", "= $1").replace(/;\s*$/, "");

test("the batch's ids are looked up one by one, however long the workspace's log", async ({ admin }) => {
  const workspaceId = randomUUID();
  // No statistics until the plans are made, as in a new database's first minute: this file's
  // database is its own, and no automatic analyze may run between the insert and the plans.
  await sql`alter table audit.audit_logs set (autovacuum_enabled = false)`.execute(admin);
  await sql`insert into audit.audit_logs (id, workspace_id, seq, stream_seq, actor_type, actor_id, action, resource_type, resource_id, occurred_at, occurred_at_ts, hash, prev_hash)
            select gen_random_uuid(), ${workspaceId}, n, n, 'user', 'u', 'agent.activated', 'agent', 'a', '2026-12-06T00:00:00.000Z', now(), ${"a".repeat(64)}, ${"b".repeat(64)}
              from generate_series(1, ${ENTRIES}) n`.execute(admin);
  // Literals (EXPLAIN EXECUTE takes no bind parameters): uuids and a JSON array of them, no quote to escape.
  const ids = JSON.stringify(Array.from({ length: 150 }, () => randomUUID()));
  const plans = await admin.connection().execute(async (connection) => {
    const planOf = async (name: string, mode: "force_custom_plan" | "force_generic_plan", prepare: string, args: string) => {
      await sql.raw(`set plan_cache_mode = ${mode}`).execute(connection);
      await sql.raw(`prepare ${name} as ${prepare}`).execute(connection);
      const { rows } = await sql<{ "QUERY PLAN": string }>`explain (analyze, costs off, timing off, summary off) execute ${sql.raw(`${name}(${args})`)}`.execute(connection);
      await sql.raw(`deallocate ${name}`).execute(connection);
      await sql`reset plan_cache_mode`.execute(connection);
      return rows.map((row) => row["QUERY PLAN"]).join("\n");
    };
    return {
      // As `execute … using` plans it at every call: with the values.
      now: await planOf("recorded_now", "force_custom_plan", RECORDED_QUERY.replace("$1", "$1::jsonb").replace("$2", "$2::uuid"), `'${ids}', '${workspaceId}'`),
      firstWay: await planOf("recorded_first_way", "force_generic_plan", firstWayPrepared.replace("$1", "$1::uuid").replace("$2", "$2::jsonb"), `'${workspaceId}', '${ids}'`),
    };
  });
  const { rows } = await sql<{ definition: string }>`select pg_get_functiondef('audit.append_entries(jsonb)'::regprocedure) as definition`.execute(admin);
  expect(rows[0]?.definition).toContain(RECORDED_PLANNED_EACH_CALL.trim());
  expect(plans.now).toContain("Index Scan using audit_logs_pkey");
  expect(plans.now).not.toContain(`rows=${ENTRIES}`);
  // The first way of asking read all 20,000 entries here, on PostgreSQL 15: the test can tell
  // the two apart. (Should a later PostgreSQL plan it better, this line is what fails.)
  expect(plans.firstWay).toContain(`rows=${ENTRIES}`);
});

test("an id that is an entry of another workspace is not reported as recorded in this one", async ({ admin }) => {
  const [other, workspaceId, id] = [randomUUID(), randomUUID(), randomUUID()];
  await sql`insert into audit.audit_logs (id, workspace_id, seq, stream_seq, actor_type, actor_id, action, resource_type, resource_id, occurred_at, occurred_at_ts, hash, prev_hash)
            values (${id}, ${other}, 1, 1, 'user', 'u', 'agent.activated', 'agent', 'a', '2026-12-06T00:00:00.000Z', now(), ${"a".repeat(64)}, ${"0".repeat(64)})`.execute(admin);
  // A chain end the workspace does not have, so the function answers what it found without writing.
  const groups = [{ ws: workspaceId, check_hold: false, after_hash: "f".repeat(64), ids: [id], rows: [] }];
  const { rows } = await sql<{ answer: unknown }>`select audit.append_entries(${JSON.stringify(groups)}::jsonb) as answer`.execute(admin);
  expect(rows[0]?.answer).toEqual([{ ws: workspaceId, status: "stale", seq: 0, hash: "0".repeat(64), stream_seq: null, recorded: [] }]);
  // The same id asked of its own workspace is recorded.
  const own = [{ ...groups[0], ws: other }];
  const mine = await sql<{ answer: unknown }>`select audit.append_entries(${JSON.stringify(own)}::jsonb) as answer`.execute(admin);
  expect(mine.rows[0]?.answer).toMatchObject([{ ws: other, status: "stale", recorded: [id] }]);
});
