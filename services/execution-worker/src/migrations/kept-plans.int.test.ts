import { expect } from "vitest";
import { sql } from "@galaxy/db";
import { serviceDb } from "@galaxy/testkit";
import { test } from "@galaxy/testkit/fixtures";
import type { ExecutionDb } from "../db";

// Postgres plans a SQL function's body, and a statement sent as text, at every call; PL/pgSQL
// keeps each statement's plan for the session. The statements a delivery's path runs every time
// are PL/pgSQL for that reason: the claim (docs/decisions/0025), which sees every workspace, and
// the intake's read and write and a run's writes (docs/decisions/0026), which run as the worker
// under row-level security. What each one does is covered by the tests of its caller
// (executions/claim.int.test.ts, batch-intake.int.test.ts, run-store.int.test.ts).
test("the claim, the intake's read and writes and a run's writes are PL/pgSQL functions; only the claim runs as its owner", async ({ env, onTestFinished }) => {
  const db = serviceDb<ExecutionDb>(env, "execution-worker");
  onTestFinished(() => db.destroy());
  const { rows } = await sql<{ name: string; language: string; definer: boolean }>`
    select distinct p.proname as name, l.lanname as language, p.prosecdef as definer
      from pg_proc p join pg_language l on l.oid = p.prolang join pg_namespace n on n.oid = p.pronamespace
     where n.nspname = 'execution' and p.proname in ('claim_queued_executions', 'intake_facts', 'load_run', 'write_starts', 'write_foreseen_start', 'write_run', 'record_run')
     order by p.proname`.execute(db);
  expect(rows).toEqual([
    { name: "claim_queued_executions", language: "plpgsql", definer: true },
    { name: "intake_facts", language: "plpgsql", definer: false },
    { name: "load_run", language: "plpgsql", definer: false },
    { name: "record_run", language: "plpgsql", definer: false },
    { name: "write_foreseen_start", language: "plpgsql", definer: false },
    { name: "write_run", language: "plpgsql", definer: false },
    { name: "write_starts", language: "plpgsql", definer: false },
  ]);
});
