import { describe, expect } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { agentConfigFromBody } from "@galaxy/contracts";
import { appendEvent, createDb, createServiceDb, inWorkspace, sql, type Kysely } from "@galaxy/db";
import { serviceDb, incomingTraceparent } from "@galaxy/testkit";
import { test as engineTest } from "@galaxy/testkit/fixtures";
import { insertAgent } from "./agents/agents.repository";
import type { RegistryDb } from "./db";

const wsA = uuidv7();
const wsB = uuidv7();
const agentId = uuidv7();

/**
 * On the testkit's `env` (the file's own database), each set up once per file:
 * - `db`: the registry's login role, which wrote workspace A's agent and its `agent.created`
 *   event before any test reads them;
 * - `superuser`: a superuser on one connection, which bypasses row-level security: it shows what
 *   really is in the tables (once `db` wrote them);
 * - `single`: the registry's login role on one connection, so a workspace left set on it would be seen.
 */
const test = engineTest
  .extend("db", { scope: "file" }, async ({ env }, { onCleanup }): Promise<Kysely<RegistryDb>> => {
    const db = serviceDb<RegistryDb>(env, "agent-registry");
    onCleanup(() => db.destroy());
    const config = agentConfigFromBody({ name: "tenant A's agent", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "" });
    await inWorkspace(db, wsA, async (tx) => {
      const agent = await insertAgent(tx, { id: agentId, workspaceId: wsA, config, createdBy: "user-a", createdByUser: "user-a" });
      const context = { claim: "unused: never published", traceparent: incomingTraceparent(), correlationId: "rls-test", causationId: "rls-test" };
      await appendEvent(tx, { type: "agent.created", workspaceId: wsA, actor: { type: "user", id: "user-a" }, context, data: { agent } });
    });
    return db;
  })
  .extend("superuser", { scope: "file" }, async ({ env, db }, { onCleanup }): Promise<Kysely<RegistryDb>> => {
    // The rows are written before a test reads them here.
    void db;
    const superuser = createDb<RegistryDb>({ connectionString: env.databaseUrl, schema: "registry", max: 1 });
    onCleanup(() => superuser.destroy());
    return superuser;
  })
  .extend("single", { scope: "file" }, async ({ env, db }, { onCleanup }): Promise<Kysely<RegistryDb>> => {
    void db;
    const single = createServiceDb<RegistryDb>(env.databaseUrl, "agent-registry", { max: 1 });
    onCleanup(() => single.destroy());
    return single;
  });

const TENANT_TABLES = ["agents", "agent_versions", "outbox"] as const;

describe("row-level security as galaxy_registry", () => {
  test("the rows exist", async ({ superuser }) => {
    for (const table of TENANT_TABLES) {
      const rows = await superuser.selectFrom(table).select("workspace_id").execute();
      expect(rows.map((r) => r.workspace_id), table).toEqual([wsA]);
    }
  });

  test("a query with no workspace set sees no row of any tenant table", async ({ db }) => {
    const role = await sql<{ role: string }>`select current_user as role`.execute(db);
    expect(role.rows[0]?.role).toBe("galaxy_registry");
    for (const table of TENANT_TABLES) {
      expect(await db.selectFrom(table).select("workspace_id").execute(), table).toEqual([]);
    }
  });

  test("a workspace set in one transaction does not outlive it on the connection", async ({ single }) => {
    const inside = await inWorkspace(single, wsA, (tx) => tx.selectFrom("agents").select("id").execute());
    expect(inside.map((r) => r.id)).toEqual([agentId]);
    expect(await single.selectFrom("agents").select("id").execute()).toEqual([]);
  });

  test("with another workspace set, nothing of the first is visible or changeable", async ({ db, superuser }) => {
    await inWorkspace(db, wsB, async (tx) => {
      for (const table of TENANT_TABLES) {
        expect(await tx.selectFrom(table).select("workspace_id").execute(), table).toEqual([]);
      }
      const updated = await tx.updateTable("agents").set({ name: "taken over" }).where("id", "=", agentId).executeTakeFirst();
      expect(updated.numUpdatedRows).toBe(0n);
      const deleted = await tx.deleteFrom("agent_versions").where("agent_id", "=", agentId).executeTakeFirst();
      expect(deleted.numDeletedRows).toBe(0n);
    });
    const row = await superuser.selectFrom("agents").select("name").where("id", "=", agentId).executeTakeFirstOrThrow();
    expect(row.name).toBe("tenant A's agent");
  });

  test("a row for another workspace than the one set is refused", async ({ db }) => {
    const config = agentConfigFromBody({ name: "smuggled", provider: "openai", model: "m", systemPrompt: "" });
    await expect(inWorkspace(db, wsB, (tx) => insertAgent(tx, { id: uuidv7(), workspaceId: wsA, config, createdBy: "user-b", createdByUser: "user-b" }))).rejects.toThrow(
      /row-level security/,
    );
  });

  test("the login role reads no other service's schema", async ({ db }) => {
    await expect(sql`select * from identity.users`.execute(db)).rejects.toThrow(/permission denied/);
    await expect(sql`select * from execution.kysely_migration`.execute(db)).rejects.toThrow(/permission denied for schema execution/);
  });

  test("the login role cannot switch row-level security off", async ({ db }) => {
    await expect(sql`alter table agents no force row level security`.execute(db)).rejects.toThrow(/must be owner/);
  });

  test("the relay's security-definer function sees every workspace's unpublished events", async ({ db }) => {
    const pending = await sql<{ workspace_id: string }>`select workspace_id from outbox_pending(0, 10)`.execute(db);
    expect(pending.rows.map((r) => r.workspace_id)).toEqual([wsA]);
  });
});
