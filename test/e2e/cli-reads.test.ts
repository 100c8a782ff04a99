import { describe, expect } from "vitest";
import { z } from "zod";
import { Agent, CreatedApiKey, CreatedTrigger, Execution, SignupResult, Trigger } from "@galaxy/contracts";
import { runCli } from "@galaxy/cli";
import { galaxyTest, startGalaxyFirst } from "./fixtures";
import { api, dataOf, eventually } from "./harness";

interface Workspace {
  /** A viewer's API key, which the CLI reads with. */
  key: string;
  agentId: string;
  triggerId: string;
  executionId: string;
}

/**
 * Set up before the first test: Cleo's workspace with an active agent, a schedule trigger and an
 * execution; `galaxyCli` runs `galaxy` against this Galaxy's gateway with the workspace's API key.
 */
const test = galaxyTest()
  .extend("workspace", { scope: "file", auto: true }, async ({ galaxy }): Promise<Workspace> => {
    const token = dataOf(SignupResult, await api(galaxy, "POST", "/api/auth/signup", { body: { email: "cli@reads.example", password: "correct horse battery", name: "Cleo", workspaceName: "Reads" } })).accessToken;
    const key = dataOf(CreatedApiKey, await api(galaxy, "POST", "/api/api-keys", { token, body: { name: "ops", role: "viewer" } })).key;
    const agentId = dataOf(Agent, await api(galaxy, "POST", "/api/agents", { token, body: { name: "Echo", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "Repeat." } })).id;
    await api(galaxy, "POST", `/api/agents/${agentId}/activate`, { token });
    const triggerId = dataOf(CreatedTrigger, await api(galaxy, "POST", `/api/agents/${agentId}/triggers`, { token, body: { type: "schedule", cron: "0 3 * * *" } })).id;
    const executionId = await eventually(async () => {
      const started = await api(galaxy, "POST", `/api/agents/${agentId}/executions`, { token, body: { input: { message: "hi" } } });
      return started.status === 202 ? dataOf(Execution, started).id : undefined;
    }, 10_000, "the execution to start");
    return { key, agentId, triggerId, executionId };
  })
  .extend("agentId", { scope: "file" }, async ({ workspace }) => workspace.agentId)
  .extend("triggerId", { scope: "file" }, async ({ workspace }) => workspace.triggerId)
  .extend("executionId", { scope: "file" }, async ({ workspace }) => workspace.executionId)
  .extend("galaxyCli", { scope: "file" }, async ({ galaxy, workspace }) => async (...argv: string[]): Promise<{ code: number; out: string; err: string }> => {
    let out = "";
    let err = "";
    const code = await runCli(argv, { out: (text) => (out += `${text}\n`), err: (text) => (err += `${text}\n`), env: { GALAXY_API_URL: galaxy.url, GALAXY_API_KEY: workspace.key } });
    return { code, out, err };
  });
startGalaxyFirst(test);

function json<S extends z.ZodType>(schema: S, out: string): z.infer<S> {
  const envelope = z.object({ data: z.unknown() }).parse(JSON.parse(out));
  return schema.parse(envelope.data);
}

describe("galaxy agents|executions|triggers list/show", () => {
  test("agents list and show, as JSON and for people", async ({ agentId, galaxyCli }) => {
    const listed = await galaxyCli("agents", "list", "--json");
    expect(listed.code).toBe(0);
    expect(json(z.array(Agent), listed.out).map((a) => a.id)).toEqual([agentId]);
    const shown = await galaxyCli("agents", "show", agentId);
    expect(shown.code).toBe(0);
    expect(shown.out).toContain(`Echo (${agentId})`);
    expect(shown.out).toContain("status active");
  });

  test("executions list (by agent and status) and show", async ({ agentId, executionId, galaxyCli }) => {
    await eventually(async () => ((await galaxyCli("executions", "list", "--status", "completed", "--json")).out.includes(executionId) ? true : undefined), 15_000, "the execution to complete");
    const listed = await galaxyCli("executions", "list", "--agent", agentId, "--limit", "5", "--json");
    expect(json(z.array(Execution), listed.out).map((e) => e.id)).toEqual([executionId]);
    const shown = await galaxyCli("executions", "show", executionId);
    expect(shown.out).toContain(`execution ${executionId}: completed`);
    expect(shown.out).toContain("echo: hi");
  });

  test("triggers list and show", async ({ agentId, triggerId, galaxyCli }) => {
    expect(json(z.array(Trigger), (await galaxyCli("triggers", "list", agentId, "--json")).out).map((t) => t.id)).toEqual([triggerId]);
    const shown = await galaxyCli("triggers", "show", agentId, triggerId);
    expect(shown.out).toContain("0 3 * * *");
  });

  test("what the API refuses is a failure with its code; no key is bad usage", async ({ galaxy, galaxyCli }) => {
    const missing = await galaxyCli("executions", "show", "0193a1b2-0000-7000-8000-000000000000", "--json");
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.err)).toMatchObject({ error: { code: "execution_not_found" } });
    let err = "";
    const code = await runCli(["agents", "list"], { out: () => undefined, err: (text) => (err += text), env: { GALAXY_API_URL: galaxy.url } });
    expect(code).toBe(2);
    expect(err).toContain("GALAXY_API_KEY");
  });
});
