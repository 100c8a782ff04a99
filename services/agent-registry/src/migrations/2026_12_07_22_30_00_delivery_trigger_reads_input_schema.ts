import { sql, type Kysely } from "kysely";
import { createSecurityDefinerFunction } from "@galaxy/db";

const OLD_BODY = `select t.workspace_id, t.agent_id, a.status, t.secret_sealed, t.previous_secret_sealed, t.previous_secret_expires_at
      from triggers t join agents a on a.id = t.agent_id and a.workspace_id = t.workspace_id
      where t.id = p_id and t.type = 'webhook' and t.deleted_at is null and a.deleted_at is null`;

/**
 * A delivery's trigger lookup also answers its agent's current version and that version's
 * `inputSchema`, so the gateway refuses a body that fails it before the 202 (docs/webhooks.md)
 * rather than accepting a delivery no execution can start from. A function's result columns
 * cannot change in place: it is dropped and made again, in the migration's transaction.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`drop function webhook_trigger_for_delivery(uuid)`.execute(db);
  await createSecurityDefinerFunction(db, "agent-registry", {
    name: "webhook_trigger_for_delivery",
    args: "p_id uuid",
    returns: "table (workspace_id uuid, agent_id uuid, agent_status text, secret_sealed text, previous_secret_sealed text, previous_secret_expires_at timestamptz, agent_version int, input_schema jsonb)",
    body: `select t.workspace_id, t.agent_id, a.status, t.secret_sealed, t.previous_secret_sealed, t.previous_secret_expires_at, a.current_version, v.config -> 'inputSchema'
      from triggers t
      join agents a on a.id = t.agent_id and a.workspace_id = t.workspace_id
      join agent_versions v on v.workspace_id = a.workspace_id and v.agent_id = a.id and v.version = a.current_version
      where t.id = p_id and t.type = 'webhook' and t.deleted_at is null and a.deleted_at is null`,
    reason:
      "POST /hooks/{triggerId} carries no credential but the signature: the gateway asks (registry.triggers.resolve, its NATS user alone) for the trigger's workspace, agent status and secrets to verify the delivery with, and the agent's current version and inputSchema to check its body against. One live webhook trigger by id, never a list.",
  });
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function webhook_trigger_for_delivery(uuid)`.execute(db);
  await createSecurityDefinerFunction(db, "agent-registry", {
    name: "webhook_trigger_for_delivery",
    args: "p_id uuid",
    returns: "table (workspace_id uuid, agent_id uuid, agent_status text, secret_sealed text, previous_secret_sealed text, previous_secret_expires_at timestamptz)",
    body: OLD_BODY,
    reason:
      "POST /hooks/{triggerId} carries no credential but the signature: the gateway asks (registry.triggers.resolve, its NATS user alone) for the trigger's workspace, agent status and secrets to verify the delivery with. One live webhook trigger by id, never a list.",
  });
}
