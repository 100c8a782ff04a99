import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { AgentConfig } from "@galaxy/contracts";
import { inWorkspace, sql, type Kysely } from "@galaxy/db";
import { createTestEnv, serviceDb, type TestEnv } from "@galaxy/testkit";
import { applyAgentFact, insertAgentVersion } from "./agents/agents.repository";
import type { ExecutionDb } from "./db";

let env: TestEnv;
let db: Kysely<ExecutionDb>;
const wsA = uuidv7();
const wsB = uuidv7();
const agentId = uuidv7();

const config = AgentConfig.parse({
  name: "Echo", description: null, provider: "openai", model: "galaxy-dev-echo", systemPrompt: "", temperature: null, maxTokens: null,
  tools: [], knowledgeBaseIds: [], inputSchema: null, outputSchema: null, timeoutMs: null, notifyUrl: null,
});

beforeAll(async () => {
  env = await createTestEnv(inject("engines"));
  db = serviceDb<ExecutionDb>(env, "execution-worker");
  await inWorkspace(db, wsA, async (tx) => {
    await applyAgentFact(tx, { workspaceId: wsA, agentId, status: "active", version: 1, at: new Date() });
    await insertAgentVersion(tx, { workspaceId: wsA, agentId, version: 1, config });
  });
});

afterAll(async () => {
  await db?.destroy();
  await env?.cleanup();
});

const TABLES = ["agents", "agent_versions", "executions", "execution_steps", "outbox"] as const;

async function count(table: (typeof TABLES)[number], workspaceId?: string): Promise<number> {
  const query = sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`;
  const result = workspaceId ? await inWorkspace(db, workspaceId, (tx) => query.execute(tx)) : await query.execute(db);
  return result.rows[0]?.n ?? -1;
}

describe("row-level security as galaxy_execution", () => {
  test("the service runs as its login role, not as the owner or a superuser", async () => {
    const result = await sql<{ role: string }>`select current_user as role`.execute(db);
    expect(result.rows[0]?.role).toBe("galaxy_execution");
  });

  test("without a workspace set, no table shows a row", async () => {
    expect(await count("agents", wsA)).toBe(1);
    for (const table of TABLES) expect(await count(table)).toBe(0);
  });

  test("another workspace's rows are invisible, and cannot be written", async () => {
    expect(await count("agents", wsB)).toBe(0);
    expect(await count("agent_versions", wsB)).toBe(0);
    await expect(
      inWorkspace(db, wsB, (tx) => applyAgentFact(tx, { workspaceId: wsA, agentId: uuidv7(), status: "draft", version: 1, at: new Date() })),
    ).rejects.toThrow(/row-level security/);
  });

  test("another service's schema is out of reach", async () => {
    await expect(sql`select * from identity.users`.execute(db)).rejects.toMatchObject({ code: "42501" });
    await expect(sql`select * from registry.agents`.execute(db)).rejects.toMatchObject({ code: "42501" });
  });
});
