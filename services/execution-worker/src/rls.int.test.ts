import { describe, expect } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { AgentConfig, ZERO_USAGE, type Execution } from "@galaxy/contracts";
import { appendEvent, inWorkspace, sql, type Kysely } from "@galaxy/db";
import { serviceDb, incomingTraceparent } from "@galaxy/testkit";
import { test as engineTest } from "@galaxy/testkit/fixtures";
import { applyAgentFact, insertAgentVersion } from "./agents/agents.repository";
import type { ExecutionDb } from "./db";
import { findExecution, insertExecution, listSteps, openStep, renewLease } from "./executions/executions.repository";
import { recordExecutionEvent } from "./executions/events";

const wsA = uuidv7();
const wsB = uuidv7();
const agentId = uuidv7();
const executionId = uuidv7();

const config = AgentConfig.parse({
  name: "Echo", description: null, provider: "openai", model: "galaxy-dev-echo", systemPrompt: "", temperature: null, maxTokens: null,
  tools: [], knowledgeBaseIds: [], inputSchema: null, outputSchema: null, timeoutMs: null, notifyUrl: null,
});

function execution(id: string, workspaceId: string): Execution {
  return {
    id, workspaceId, agentId, agentVersion: 1, status: "queued", trigger: { type: "manual" }, input: { message: "hi" }, output: null, error: null,
    usage: ZERO_USAGE, durationMs: null, createdAt: new Date().toISOString(), startedAt: null, completedAt: null,
  };
}

/** Records an execution as `execution.start` and the pipeline do: its queued event, the row, and a step. */
async function recordExecution(db: Kysely<ExecutionDb>, workspaceId: string, id: string): Promise<void> {
  await inWorkspace(db, workspaceId, async (tx) => {
    const context = { claim: "test", traceparent: incomingTraceparent(), correlationId: uuidv7(), causationId: uuidv7() };
    await insertExecution(tx, { execution: execution(id, workspaceId), createdBy: "u", correlationId: context.correlationId, traceparent: context.traceparent, queuedEventId: null });
    await recordExecutionEvent(tx, { type: "execution.queued", workspaceId, executionId: id, actor: { type: "user", id: "u" }, data: { execution: execution(id, workspaceId) }, context });
    await openStep(tx, { workspaceId, executionId: id, name: "model_call", startedAt: new Date(), detail: { attempt: 1 }, closeAbandoned: false });
  });
}

/**
 * On the testkit's `env` (the file's own database), set up once per file:
 * - `db`: the worker's login role, which wrote workspace A's agent, its version and an execution
 *   with its event and step before any test reads it.
 */
const test = engineTest.extend("db", { scope: "file" }, async ({ env }, { onCleanup }): Promise<Kysely<ExecutionDb>> => {
  const db = serviceDb<ExecutionDb>(env, "execution-worker");
  onCleanup(() => db.destroy());
  await inWorkspace(db, wsA, async (tx) => {
    await applyAgentFact(tx, { workspaceId: wsA, agentId, status: "active", version: 1, at: new Date() });
    await insertAgentVersion(tx, { workspaceId: wsA, agentId, version: 1, config });
  });
  await recordExecution(db, wsA, executionId);
  return db;
});

const TABLES = ["agents", "agent_versions", "executions", "execution_steps", "execution_events", "outbox"] as const;

async function count(db: Kysely<ExecutionDb>, table: (typeof TABLES)[number], workspaceId?: string): Promise<number> {
  const query = sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`;
  const result = workspaceId ? await inWorkspace(db, workspaceId, (tx) => query.execute(tx)) : await query.execute(db);
  return result.rows[0]?.n ?? -1;
}

describe("row-level security as galaxy_execution", () => {
  test("the service runs as its login role, not as the owner or a superuser", async ({ db }) => {
    const result = await sql<{ role: string }>`select current_user as role`.execute(db);
    expect(result.rows[0]?.role).toBe("galaxy_execution");
  });

  test("without a workspace set, no table shows a row", async ({ db }) => {
    // Every table holds a row of A: a leak would show.
    for (const table of TABLES) expect(await count(db, table, wsA), table).toBe(1);
    for (const table of TABLES) expect(await count(db, table), table).toBe(0);
    expect(await findExecution(db, executionId)).toBeUndefined();
  });

  test("another workspace sees none of A's rows in any table", async ({ db }) => {
    for (const table of TABLES) expect(await count(db, table, wsA), table).toBe(1);
    for (const table of TABLES) expect(await count(db, table, wsB), table).toBe(0);
    await inWorkspace(db, wsB, async (tx) => {
      expect(await findExecution(tx, executionId)).toBeUndefined();
      expect(await listSteps(tx, executionId)).toEqual([]);
    });
  });

  test("another workspace cannot write A's rows, nor change them", async ({ db }) => {
    await expect(
      inWorkspace(db, wsB, (tx) => applyAgentFact(tx, { workspaceId: wsA, agentId: uuidv7(), status: "draft", version: 1, at: new Date() })),
    ).rejects.toThrow(/row-level security/);
    // Recording an execution of A while B is set fails at its first row (the outbox event).
    await expect(recordExecutionAs(db, wsB, wsA)).rejects.toThrow(/row-level security/);
    await expect(
      inWorkspace(db, wsB, (tx) => insertExecution(tx, { execution: execution(uuidv7(), wsA), createdBy: "u", correlationId: uuidv7(), traceparent: incomingTraceparent(), queuedEventId: uuidv7() })),
    ).rejects.toThrow(/row-level security/);
    // An update from B matches none of A's rows.
    const moved = await inWorkspace(db, wsB, (tx) => tx.updateTable("executions").set({ status: "failed" }).where("id", "=", executionId).executeTakeFirst());
    expect(moved.numUpdatedRows).toBe(0n);
    expect(await inWorkspace(db, wsB, (tx) => renewLease(tx, executionId, "anyone", 30_000))).toBe(false);
    expect((await inWorkspace(db, wsA, (tx) => findExecution(tx, executionId)))?.status).toBe("queued");
  });

  test("another service's schema is out of reach", async ({ db }) => {
    await expect(sql`select * from identity.users`.execute(db)).rejects.toMatchObject({ code: "42501" });
    await expect(sql`select * from registry.agents`.execute(db)).rejects.toMatchObject({ code: "42501" });
  });
});

/** Writes, with `setWs` as the transaction's workspace, an execution that belongs to `rowWs`. */
async function recordExecutionAs(db: Kysely<ExecutionDb>, setWs: string, rowWs: string): Promise<void> {
  await inWorkspace(db, setWs, async (tx) => {
    const context = { claim: "test", traceparent: incomingTraceparent(), correlationId: uuidv7(), causationId: uuidv7() };
    await appendEvent(tx, { type: "execution.queued", workspaceId: rowWs, actor: { type: "user", id: "u" }, data: { executionId: uuidv7(), seq: 1, execution: execution(uuidv7(), rowWs) }, context });
  });
}
