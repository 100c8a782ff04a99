import { expect } from "vitest";
import { sql } from "@galaxy/db";
import { serviceDb } from "@galaxy/testkit";
import { test } from "@galaxy/testkit/fixtures";
import type { ExecutionDb } from "../db";

// docs/decisions/0025: Postgres plans a SQL function's body at every call; the claim, called
// about once per execution with the claims' lock held, is PL/pgSQL so that its plan is kept.
// What it claims is covered by executions/claim.int.test.ts, which runs this function.
test("the claim is a PL/pgSQL security-definer function, so Postgres keeps its plan between calls", async ({ env, onTestFinished }) => {
  const db = serviceDb<ExecutionDb>(env, "execution-worker");
  onTestFinished(() => db.destroy());
  const { rows } = await sql<{ language: string; definer: boolean }>`
    select l.lanname as language, p.prosecdef as definer
      from pg_proc p join pg_language l on l.oid = p.prolang join pg_namespace n on n.oid = p.pronamespace
     where n.nspname = 'execution' and p.proname = 'claim_queued_executions'`.execute(db);
  expect(rows).toEqual([{ language: "plpgsql", definer: true }]);
});
