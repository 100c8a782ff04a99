import { expect } from "vitest";
import { z } from "zod";
import { Agent, LoginResult } from "@galaxy/contracts";
import { galaxyTest, PASSWORD, startGalaxyFirst } from "./fixtures";
import { api, dataOf } from "./harness";

const agentBody = { name: "Made by a key", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "" };

const test = galaxyTest()
  .extend("signup", { scope: "file" }, async ({ signUp }) => (email: string) => signUp(email, email))
  .extend("tokenIn", { scope: "file" }, async ({ galaxy }) => async (email: string, workspaceId: string): Promise<string> =>
    dataOf(LoginResult, await api(galaxy, "POST", "/api/auth/login", { body: { email, password: PASSWORD, workspaceId } })).accessToken);
startGalaxyFirst(test);

test("what an API key creates is owned by the key and by its creator (docs/api.md)", async ({ galaxy, signup, tokenIn }) => {
  const owner = await signup("owner@keys.example");
  const ws = owner.workspace.id;
  const admin = await signup("admin@keys.example");
  const other = await signup("other@keys.example");
  for (const [email, role] of [["admin@keys.example", "admin"], ["other@keys.example", "member"]] as const) {
    expect((await api(galaxy, "POST", "/api/members", { token: owner.accessToken, body: { email, role } })).status).toBe(201);
  }
  const adminToken = await tokenIn("admin@keys.example", ws);
  const key = z.object({ data: z.object({ key: z.string() }) }).parse((await api(galaxy, "POST", "/api/api-keys", { token: adminToken, body: { name: "ci", role: "member" } })).body).data.key;
  const agent = dataOf(Agent, await api(galaxy, "POST", "/api/agents", { token: key, body: agentBody }));

  // The admin becomes a member: from now on only their own agents are theirs to activate.
  expect((await api(galaxy, "PATCH", `/api/members/${admin.user.id}`, { token: owner.accessToken, body: { role: "member" } })).status).toBe(200);
  const memberToken = await tokenIn("admin@keys.example", ws);
  const otherToken = await tokenIn("other@keys.example", ws);

  expect((await api(galaxy, "POST", `/api/agents/${agent.id}/activate`, { token: otherToken })).status).toBe(403);
  const activated = await api(galaxy, "POST", `/api/agents/${agent.id}/activate`, { token: memberToken });
  expect(activated.status).toBe(200);
  expect(dataOf(Agent, activated).status).toBe("active");
  expect(other.user.id).not.toBe(admin.user.id);
});
