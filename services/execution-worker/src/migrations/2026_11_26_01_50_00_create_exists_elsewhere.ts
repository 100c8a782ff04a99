import { sql, type Kysely } from "kysely";
import { createSecurityDefinerFunction } from "@galaxy/db";

export async function up(db: Kysely<unknown>): Promise<void> {
  // Yes or no, never a row: the caller learns nothing it may pass on, only whether to report.
  await createSecurityDefinerFunction(db, "execution-worker", {
    name: "execution_exists_elsewhere",
    args: "p_id uuid, p_workspace_id uuid",
    returns: "boolean",
    body: "select exists (select 1 from executions where id = p_id and workspace_id <> p_workspace_id)",
    reason:
      "A lookup of an execution by id that found nothing in the caller's workspace asks whether the id belongs to another workspace, so the attempt is reported as security.cross_workspace_attempt; the caller still gets the 404 of a missing execution.",
  });
  await createSecurityDefinerFunction(db, "execution-worker", {
    name: "agent_exists_elsewhere",
    args: "p_id uuid, p_workspace_id uuid",
    returns: "boolean",
    body: "select exists (select 1 from agents where agent_id = p_id and workspace_id <> p_workspace_id)",
    reason:
      "Starting an execution of an agent the projection does not hold for the caller's workspace asks whether the agent belongs to another workspace, so the attempt is reported as security.cross_workspace_attempt; the caller still gets the 404 of a missing agent.",
  });
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function if exists execution_exists_elsewhere(uuid, uuid)`.execute(db);
  await sql`drop function if exists agent_exists_elsewhere(uuid, uuid)`.execute(db);
}
