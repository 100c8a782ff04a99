import { sql, type Kysely } from "kysely";
import { createSecurityDefinerFunction } from "@galaxy/db";

export async function up(db: Kysely<unknown>): Promise<void> {
  // Yes or no, never a row: the caller learns nothing it may pass on, only whether to report.
  await createSecurityDefinerFunction(db, "identity", {
    name: "member_exists_elsewhere",
    args: "p_user_id uuid, p_workspace_id uuid",
    returns: "boolean",
    body: "select exists (select 1 from members where user_id = p_user_id and workspace_id <> p_workspace_id)",
    reason:
      "A change or removal of a member by user id that found no such member in the caller's workspace asks whether the user is a member of another workspace, so the attempt is reported as security.cross_workspace_attempt; the caller still gets the 404 of a missing member.",
  });
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function if exists member_exists_elsewhere(uuid, uuid)`.execute(db);
}
