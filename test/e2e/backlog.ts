import { randomUUID } from "node:crypto";
import { Agent, SignupResult, type Execution } from "@galaxy/contracts";
import { inWorkspace, type Kysely } from "@galaxy/db";
import type { ExecutionDb } from "@galaxy/execution-worker";
import { incomingTraceparent } from "@galaxy/testkit";
import { api, dataOf, type Galaxy } from "./harness";

/** One execution of a backlog: its input and when it was queued. */
export interface BacklogEntry {
  input: Record<string, unknown>;
  createdAt: Date;
}

/**
 * Writes queued executions straight into the worker's table, copies of `template` (one started
 * through the API) with their own ids, inputs and queue times: a backlog of hundreds without as
 * many HTTP starts (intake is tested elsewhere). The rows are what intake writes for a queued
 * execution; the schedulers claim them at their next claim (publish `WAKE_SUBJECT` for it to be
 * now). Returns their ids, in order.
 */
export async function queueBacklog(db: Kysely<ExecutionDb>, template: Execution, entries: readonly BacklogEntry[]): Promise<string[]> {
  const rows = entries.map((entry) => ({
    id: randomUUID(),
    workspace_id: template.workspaceId,
    agent_id: template.agentId,
    agent_version: template.agentVersion,
    status: "queued" as const,
    trigger: JSON.stringify(template.trigger),
    input: JSON.stringify(entry.input),
    output: null,
    error: null,
    duration_ms: null,
    created_by: "test",
    correlation_id: randomUUID(),
    traceparent: incomingTraceparent(),
    queued_event_id: null,
    lease_owner: null,
    lease_expires_at: null,
    created_at: entry.createdAt,
    started_at: null,
    completed_at: null,
  }));
  if (rows.length > 0) await inWorkspace(db, template.workspaceId, (tx) => tx.insertInto("executions").values(rows).execute());
  return rows.map((row) => row.id);
}

/** A fresh user's workspace with an active `galaxy-dev-echo` agent: a tenant for tests of fairness between workspaces. */
export async function workspaceWithAgent(galaxy: Galaxy, name: string): Promise<{ token: string; workspaceId: string; agentId: string }> {
  const signup = dataOf(SignupResult, await api(galaxy, "POST", "/api/auth/signup", { body: { email: `${randomUUID()}@example.com`, password: "correct horse battery", name, workspaceName: name } }));
  const token = signup.accessToken;
  const agent = dataOf(Agent, await api(galaxy, "POST", "/api/agents", { token, body: { name, systemPrompt: "Be brief.", provider: "openai", model: "galaxy-dev-echo" } }));
  const activated = await api(galaxy, "POST", `/api/agents/${agent.id}/activate`, { token });
  if (activated.status !== 200) throw new Error(`activating the agent answered ${activated.status}`);
  return { token, workspaceId: signup.workspace.id, agentId: agent.id };
}
