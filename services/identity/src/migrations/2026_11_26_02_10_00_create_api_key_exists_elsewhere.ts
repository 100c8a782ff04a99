import { sql, type Kysely } from "kysely";
import { createSecurityDefinerFunction } from "@galaxy/db";

export async function up(db: Kysely<unknown>): Promise<void> {
  // Yes or no, never a row: the caller learns nothing it may pass on, only whether to report.
  await createSecurityDefinerFunction(db, "identity", {
    name: "api_key_exists_elsewhere",
    args: "p_id uuid, p_workspace_id uuid",
    returns: "boolean",
    body: "select exists (select 1 from api_keys where id = p_id and workspace_id <> p_workspace_id)",
    reason:
      "A revocation of an API key by id that found no such key in the caller's workspace asks whether the id is another workspace's key, so the attempt is reported as security.cross_workspace_attempt; the caller still gets the 404 of a missing key.",
  });
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function if exists api_key_exists_elsewhere(uuid, uuid)`.execute(db);
}
