import { randomBytes } from "node:crypto";
import { z } from "zod";
import { Agent, CreatedTrigger, Execution, SignupResult } from "@galaxy/contracts";
import { sql, type Kysely } from "@galaxy/db";
import { call, dataOf } from "./http";
import { sleep, waitFor } from "./child";

/** A workspace of the suite's own: its owner's token, an active echo agent and a webhook trigger. */
export interface Tenant {
  workspaceId: string;
  token: string;
  agentId: string;
  triggerId: string;
  secret: string;
}

/**
 * Signs up a workspace through the gateway, puts it on the enterprise tier (as an operator
 * does, docs/executions.md) so hundreds of runs are not held back by the free tier's limits,
 * and makes an active agent on the dev model's echo model with a webhook trigger.
 */
export async function createTenant(gatewayUrl: string, db: Kysely<unknown>, name: string): Promise<Tenant> {
  const email = `${name}-${randomBytes(4).toString("hex")}@example.com`;
  const signup = dataOf(SignupResult, await call(gatewayUrl, "POST", "/api/auth/signup", { body: { email, password: "correct horse battery staple", name, workspaceName: name } }));
  const token = signup.accessToken;
  await sql`insert into execution.workspace_tiers (workspace_id, tier) values (${signup.workspace.id}, 'enterprise')
    on conflict (workspace_id) do update set tier = excluded.tier, updated_at = now()`.execute(db);
  const agent = dataOf(Agent, await call(gatewayUrl, "POST", "/api/agents", { token, body: { name: "Echo", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "Repeat." } }));
  const activated = await call(gatewayUrl, "POST", `/api/agents/${agent.id}/activate`, { token });
  if (activated.status !== 200) throw new Error(`activate answered ${activated.status}: ${JSON.stringify(activated.body)}`);
  const trigger = dataOf(CreatedTrigger, await call(gatewayUrl, "POST", `/api/agents/${agent.id}/triggers`, { token, body: { type: "webhook" } }));
  if (!trigger.secret) throw new Error("the trigger was created without its secret");
  const tenant = { workspaceId: signup.workspace.id, token, agentId: agent.id, triggerId: trigger.id, secret: trigger.secret };
  await warmUp(gatewayUrl, tenant);
  return tenant;
}

/** One run to the end, so the worker knows the agent before the load begins. */
async function warmUp(gatewayUrl: string, tenant: Tenant): Promise<void> {
  const started = await waitFor(
    "a first execution to be accepted",
    async () => {
      const answer = await call(gatewayUrl, "POST", `/api/agents/${tenant.agentId}/executions`, { token: tenant.token, body: { input: { message: "warm-up" } } });
      if (answer.status === 202) return dataOf(Execution, answer);
      await sleep(200);
      return undefined;
    },
    30_000,
  );
  await waitFor(
    "the first execution to complete",
    async () => {
      const read = await call(gatewayUrl, "GET", `/api/executions/${started.id}`, { token: tenant.token });
      const status = z.object({ data: z.object({ status: z.string() }) }).safeParse(read.body);
      return status.success && status.data.data.status === "completed" ? true : undefined;
    },
    30_000,
    200,
  );
}
