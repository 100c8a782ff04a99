import { sql, type Kysely } from "kysely";
import { createSecurityDefinerFunction, enableWorkspaceRls } from "@galaxy/db";

/**
 * Triggers: a webhook trigger keeps its signing secret sealed (libs/secrets), and for 24 h
 * after a rotation the previous one too; a schedule trigger keeps its cron expression, time
 * zone and the input of the executions it starts. Deleting one is soft.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table triggers (
      id uuid primary key,
      workspace_id uuid not null,
      agent_id uuid not null,
      type text not null check (type in ('webhook', 'schedule')),
      secret_sealed text,
      previous_secret_sealed text,
      previous_secret_expires_at timestamptz,
      cron text,
      timezone text,
      input jsonb,
      created_by text not null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      deleted_at timestamptz,
      unique (workspace_id, id),
      foreign key (workspace_id, agent_id) references agents (workspace_id, id),
      check ((type = 'webhook') = (secret_sealed is not null)),
      check ((type = 'schedule') = (cron is not null and timezone is not null))
    )`.execute(db);
  await sql`create index triggers_of_agent on triggers (workspace_id, agent_id, created_at desc, id desc) where deleted_at is null`.execute(db);
  await sql`create index triggers_schedules on triggers (id) where type = 'schedule' and deleted_at is null`.execute(db);
  await enableWorkspaceRls(db, "triggers");

  // A delivery to /hooks/{id} names its trigger and nothing else: the workspace is learned here.
  await createSecurityDefinerFunction(db, "agent-registry", {
    name: "webhook_trigger_for_delivery",
    args: "p_id uuid",
    returns: "table (workspace_id uuid, agent_id uuid, agent_status text, secret_sealed text, previous_secret_sealed text, previous_secret_expires_at timestamptz)",
    body: `select t.workspace_id, t.agent_id, a.status, t.secret_sealed, t.previous_secret_sealed, t.previous_secret_expires_at
      from triggers t join agents a on a.id = t.agent_id and a.workspace_id = t.workspace_id
      where t.id = p_id and t.type = 'webhook' and t.deleted_at is null and a.deleted_at is null`,
    reason:
      "POST /hooks/{triggerId} carries no credential but the signature: the gateway asks (registry.triggers.resolve, its NATS user alone) for the trigger's workspace, agent status and secrets to verify the delivery with. One live webhook trigger by id, never a list.",
  });

  // The reconciler makes Redis's job schedulers match Postgres, for every workspace at once.
  await createSecurityDefinerFunction(db, "agent-registry", {
    name: "live_schedule_triggers",
    args: "",
    returns: "table (id uuid, workspace_id uuid, agent_id uuid, cron text, timezone text)",
    body: `select t.id, t.workspace_id, t.agent_id, t.cron, t.timezone
      from triggers t join agents a on a.id = t.agent_id and a.workspace_id = t.workspace_id
      where t.type = 'schedule' and t.deleted_at is null and a.deleted_at is null and a.status = 'active'`,
    reason:
      "The schedule reconciler (on start and periodically) makes the BullMQ job schedulers in Redis match the live schedule triggers of active agents in every workspace; it reads ids, cron and time zone only, never an input or a secret.",
  });

  await createSecurityDefinerFunction(db, "agent-registry", {
    name: "trigger_exists_elsewhere",
    args: "p_id uuid, p_workspace_id uuid",
    returns: "boolean",
    body: "select exists (select 1 from triggers where id = p_id and workspace_id <> p_workspace_id)",
    reason:
      "A lookup of a trigger by id that found nothing in the caller's workspace asks whether the id belongs to another workspace, so the attempt is reported as security.cross_workspace_attempt; the caller still gets the 404 of a missing trigger.",
  });
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function if exists trigger_exists_elsewhere(uuid, uuid)`.execute(db);
  await sql`drop function if exists live_schedule_triggers()`.execute(db);
  await sql`drop function if exists webhook_trigger_for_delivery(uuid)`.execute(db);
  await sql`drop table if exists triggers`.execute(db);
}
