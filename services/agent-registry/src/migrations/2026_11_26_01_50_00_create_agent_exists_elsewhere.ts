import { sql, type Kysely } from "kysely";
import { createSecurityDefinerFunction } from "@galaxy/db";

export async function up(db: Kysely<unknown>): Promise<void> {
  // Yes or no, never a row: the caller learns nothing it may pass on, only whether to report.
  await createSecurityDefinerFunction(db, "agent-registry", {
    name: "agent_exists_elsewhere",
    args: "p_id uuid, p_workspace_id uuid",
    returns: "boolean",
    body: "select exists (select 1 from agents where id = p_id and workspace_id <> p_workspace_id)",
    reason:
      "A lookup of an agent by id that found nothing in the caller's workspace asks whether the id belongs to another workspace, so the attempt is reported as security.cross_workspace_attempt; the caller still gets the 404 of a missing agent.",
  });
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function if exists agent_exists_elsewhere(uuid, uuid)`.execute(db);
}
