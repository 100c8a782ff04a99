import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { z } from "zod";
import { Agent, LoginResult, SignupResult } from "@galaxy/contracts";
import { api, dataOf, startGalaxy, type Galaxy } from "./harness";

let galaxy: Galaxy;

beforeAll(async () => {
  galaxy = await startGalaxy(inject("engines"));
});

afterAll(async () => {
  await galaxy?.stop();
});

const PASSWORD = "correct horse battery";
const agentBody = { name: "Made by a key", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "" };

async function signup(email: string): Promise<SignupResult> {
  return dataOf(SignupResult, await api(galaxy, "POST", "/api/auth/signup", { body: { email, password: PASSWORD, name: email, workspaceName: email } }));
}

async function tokenIn(email: string, workspaceId: string): Promise<string> {
  return dataOf(LoginResult, await api(galaxy, "POST", "/api/auth/login", { body: { email, password: PASSWORD, workspaceId } })).accessToken;
}

test("what an API key creates is owned by the key and by its creator (docs/api.md)", async () => {
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
