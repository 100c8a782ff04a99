import { describe, expect } from "vitest";
import { z } from "zod";
import type { Msg } from "@nats-io/transport-node";
import { Agent, AuditEntry, CredentialStored, CredentialSummary, ErrorBody, Execution, SignupResult } from "@galaxy/contracts";
import { inWorkspace } from "@galaxy/db";
import { startDevModel, type RunningDevModel } from "@galaxy/dev-model/testing";
import { serviceDb } from "@galaxy/testkit";
import type { GatewayDb } from "@galaxy/gateway";
import type { IdentityDb } from "@galaxy/identity";
import { galaxyTest, startGalaxyFirst } from "./fixtures";
import { api, dataOf, eventually } from "./harness";

const KEY = "sk-proj-e2e-workspace-key-4b2d";
const WRONG_KEY = "sk-proj-e2e-wrong-key-9999";

/**
 * - `provider`: the workspace's own OpenAI-compatible endpoint: it answers only the workspace's
 *   key; `providerSettings`: the last key it was called with, by its last four characters;
 * - `seen`: every event on the bus, watched from before the first test;
 * - `runExecution`: runs an agent and waits for its end;
 * - `auditEntries`: waits until the audit log holds `count` entries of `action`: the event has been published.
 */
// The workspace's own endpoint is on loopback: a workspace base URL goes only where OUTBOUND_HOST_ALLOWLIST allows.
const test = galaxyTest({ worker: { outboundHostAllowlist: "127.0.0.1" } })
  .extend("provider", { scope: "file", auto: true }, async ({}, { onCleanup }): Promise<RunningDevModel> => {
    const provider = await startDevModel();
    onCleanup(() => provider.close());
    await provider.control({ requireApiKey: KEY });
    return provider;
  })
  .extend("seen", { scope: "file", auto: true }, async ({ galaxy }) => {
    const seen: Msg[] = [];
    galaxy.observer.watch("evt.>", (msg) => void seen.push(msg));
    return seen;
  })
  .extend("providerSettings", { scope: "file" }, async ({ provider }) => () => provider.settings())
  .extend("runExecution", { scope: "file" }, async ({ galaxy }) => async (token: string, agentId: string): Promise<Execution> => {
    const started = await api(galaxy, "POST", `/api/agents/${agentId}/executions`, { token, body: { input: { message: "hello" } } });
    expect(started.status).toBe(202);
    const id = dataOf(Execution, started).id;
    return eventually(async () => {
      const execution = dataOf(Execution, await api(galaxy, "GET", `/api/executions/${id}`, { token }));
      return execution.status === "completed" || execution.status === "failed" ? execution : undefined;
    }, 15_000, "the execution to finish");
  })
  .extend("auditEntries", { scope: "file" }, async ({ galaxy }) => (token: string, action: string, count: number): Promise<AuditEntry[]> =>
    eventually(async () => {
      const response = await api(galaxy, "GET", `/api/audit-logs?action=${action}`, { token });
      const entries = z.object({ data: z.array(AuditEntry) }).parse(response.body).data;
      return entries.length >= count ? entries : undefined;
    }, 15_000, `${count} ${action} audit entries`));
startGalaxyFirst(test);

describe("a workspace's provider key, through the gateway", () => {
  let token = "";
  let workspaceId = "";
  let agentId = "";

  test("an owner sets the OpenAI key: 200 with its last four characters, never the key", async ({ galaxy, provider }) => {
    const signup = await api(galaxy, "POST", "/api/auth/signup", { body: { email: "keys@example.com", password: "correct horse battery", name: "K", workspaceName: "Keys" } });
    const result = dataOf(SignupResult, signup);
    token = result.accessToken;
    workspaceId = result.workspace.id;
    const put = await api(galaxy, "PUT", "/api/provider-credentials/openai", {
      token,
      body: { apiKey: KEY, baseUrl: `${provider.url}/v1` },
      headers: { "idempotency-key": "put-openai-1" },
    });
    expect(put.status).toBe(200);
    expect(dataOf(CredentialStored, put)).toEqual({ provider: "openai", last4: "4b2d", updatedAt: expect.any(String) });
    expect(JSON.stringify(put.body)).not.toContain(KEY);
  });

  test("GET lists it by last four characters; the key is in no answer", async ({ galaxy, provider }) => {
    const list = await api(galaxy, "GET", "/api/provider-credentials", { token });
    expect(list.status).toBe(200);
    expect(z.object({ data: z.array(CredentialSummary), pagination: z.object({ total: z.number() }) }).parse(list.body)).toEqual({
      data: [{ provider: "openai", last4: "4b2d", baseUrl: `${provider.url}/v1`, updatedAt: expect.any(String) }],
      pagination: expect.objectContaining({ total: 1 }),
    });
    expect(JSON.stringify(list.body)).not.toContain(KEY);
  });

  test("an execution of an OpenAI agent calls the workspace's endpoint with the workspace's key", async ({ galaxy, providerSettings, runExecution }) => {
    const created = await api(galaxy, "POST", "/api/agents", { token, body: { name: "Echo", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "Repeat." } });
    agentId = dataOf(Agent, created).id;
    await api(galaxy, "POST", `/api/agents/${agentId}/activate`, { token });
    const execution = await runExecution(token, agentId);
    expect(execution).toMatchObject({ status: "completed", output: { text: "echo: hello" }, error: null });
    expect((await providerSettings()).lastApiKeyLast4).toBe("4b2d");
  });

  test("with a key the provider refuses, the execution fails with provider_error", async ({ galaxy, provider, providerSettings, runExecution, auditEntries }) => {
    const put = await api(galaxy, "PUT", "/api/provider-credentials/openai", { token, body: { apiKey: WRONG_KEY, baseUrl: `${provider.url}/v1` } });
    expect(put.status).toBe(200);
    // The update is on the bus (so every worker dropped the old key) once audit has it.
    await auditEntries(token, "provider_credential.updated", 2);
    const execution = await runExecution(token, agentId);
    expect(execution).toMatchObject({ status: "failed", error: { code: "provider_error" } });
    expect((await providerSettings()).lastApiKeyLast4).toBe("9999");
    expect(JSON.stringify(execution)).not.toContain(WRONG_KEY);
  });

  test("the audit log records each change by last four characters and base URL alone", async ({ provider, auditEntries }) => {
    const entries = await auditEntries(token, "provider_credential.updated", 2);
    expect(entries.map((entry) => entry.changes?.after)).toEqual([
      { provider: "openai", last4: "9999", baseUrl: `${provider.url}/v1` },
      { provider: "openai", last4: "4b2d", baseUrl: `${provider.url}/v1` },
    ]);
    expect(entries.every((entry) => entry.resourceType === "provider_credential" && entry.resourceId === "openai")).toBe(true);
    expect(JSON.stringify(entries)).not.toContain(KEY);
    expect(JSON.stringify(entries)).not.toContain(WRONG_KEY);
  });

  test("no event on the bus carries the key", async ({ seen }) => {
    const bodies = seen.map((msg) => msg.string()).join("\n");
    expect(bodies).toContain("provider_credential.updated");
    expect(bodies).not.toContain(KEY);
    expect(bodies).not.toContain(WRONG_KEY);
  });

  test("the gateway kept no idempotency record of a PUT: not even a digest of the key", async ({ galaxy }) => {
    const gatewayDb = serviceDb<GatewayDb>(galaxy.env, "gateway");
    const identityDb = serviceDb<IdentityDb>(galaxy.env, "identity");
    try {
      const records = await inWorkspace(gatewayDb, workspaceId, (tx) => tx.selectFrom("idempotency_keys").select(["key", "path"]).where("method", "=", "PUT").execute());
      expect(records).toEqual([]);
      const sealed = await inWorkspace(identityDb, workspaceId, (tx) => tx.selectFrom("provider_credentials").select(["ciphertext", "last4"]).execute());
      expect(sealed).toHaveLength(1);
      expect(sealed[0]?.last4).toBe("9999");
      expect(JSON.stringify(sealed)).not.toContain(WRONG_KEY);
    } finally {
      await gatewayDb.destroy();
      await identityDb.destroy();
    }
  });

  test("bad requests: an unknown provider or a missing key is a 400, no token a 401", async ({ galaxy }) => {
    const unknown = await api(galaxy, "PUT", "/api/provider-credentials/cohere", { token, body: { apiKey: KEY } });
    expect(unknown.status).toBe(400);
    const missing = await api(galaxy, "PUT", "/api/provider-credentials/openai", { token, body: { baseUrl: "https://example.com" } });
    expect(missing.status).toBe(400);
    expect(ErrorBody.parse(missing.body).details).toHaveProperty("body.apiKey");
    const anonymous = await api(galaxy, "GET", "/api/provider-credentials");
    expect(anonymous.status).toBe(401);
  });

  test("DELETE removes it (204); the next execution uses the environment's endpoint; a second DELETE is a 404", async ({ galaxy, providerSettings, runExecution, auditEntries }) => {
    const deleted = await api(galaxy, "DELETE", "/api/provider-credentials/openai", { token });
    expect(deleted.status).toBe(204);
    expect(dataOf(z.array(CredentialSummary), await api(galaxy, "GET", "/api/provider-credentials", { token }))).toEqual([]);
    await auditEntries(token, "provider_credential.deleted", 1);
    const execution = await runExecution(token, agentId);
    expect(execution).toMatchObject({ status: "completed" });
    // The workspace's endpoint saw no call since the refused one.
    expect((await providerSettings()).lastApiKeyLast4).toBe("9999");
    const again = await api(galaxy, "DELETE", "/api/provider-credentials/openai", { token });
    expect(again.status).toBe(404);
    expect(ErrorBody.parse(again.body).code).toBe("credential_not_found");
  });
});

describe("a workspace's Google (Gemini) key, through the gateway", () => {
  const GOOGLE_KEY = "AIzaSy-e2e-workspace-key-6c1e";

  test("is stored sealed, listed by its last four characters, and a Gemini agent's execution calls the workspace's endpoint with it", async ({ galaxy, provider, providerSettings }) => {
    const signup = await api(galaxy, "POST", "/api/auth/signup", { body: { email: "gemini-keys@example.com", password: "correct horse battery", name: "G", workspaceName: "Gemini keys" } });
    const { accessToken: token, workspace } = dataOf(SignupResult, signup);
    await provider.control({ requireApiKey: GOOGLE_KEY });
    try {
      const put = await api(galaxy, "PUT", "/api/provider-credentials/google", { token, body: { apiKey: GOOGLE_KEY, baseUrl: provider.url } });
      expect(put.status, JSON.stringify(put.body)).toBe(200);
      expect(dataOf(CredentialStored, put)).toEqual({ provider: "google", last4: "6c1e", updatedAt: expect.any(String) });
      const list = await api(galaxy, "GET", "/api/provider-credentials", { token });
      expect(dataOf(z.array(CredentialSummary), list)).toEqual([{ provider: "google", last4: "6c1e", baseUrl: provider.url, updatedAt: expect.any(String) }]);
      expect(JSON.stringify([put.body, list.body])).not.toContain(GOOGLE_KEY);

      const created = await api(galaxy, "POST", "/api/agents", { token, body: { name: "Gemini", provider: "google", model: "galaxy-dev-echo", systemPrompt: "Repeat." } });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const agent = dataOf(Agent, created);
      expect(agent.provider).toBe("google");
      await api(galaxy, "POST", `/api/agents/${agent.id}/activate`, { token });
      const started = await api(galaxy, "POST", `/api/agents/${agent.id}/executions`, { token, body: { input: { message: "hello" } } });
      const id = dataOf(Execution, started).id;
      const execution = await eventually(async () => {
        const current = dataOf(Execution, await api(galaxy, "GET", `/api/executions/${id}`, { token }));
        return current.status === "completed" || current.status === "failed" ? current : undefined;
      }, 15_000, "the Gemini execution to finish");
      expect(execution).toMatchObject({ status: "completed", output: { text: "echo: hello" }, error: null });
      expect((await providerSettings()).lastApiKeyLast4).toBe("6c1e");

      const identityDb = serviceDb<IdentityDb>(galaxy.env, "identity");
      try {
        const sealed = await inWorkspace(identityDb, workspace.id, (tx) => tx.selectFrom("provider_credentials").select(["provider", "ciphertext"]).execute());
        expect(sealed.map((row) => row.provider)).toEqual(["google"]);
        expect(JSON.stringify(sealed)).not.toContain(GOOGLE_KEY);
      } finally {
        await identityDb.destroy();
      }
    } finally {
      await provider.control({ requireApiKey: KEY });
    }
  });

  test("the OpenAPI document knows google as an agent's provider and as a credential's", async ({ galaxy }) => {
    const doc = JSON.stringify((await api(galaxy, "GET", "/openapi.json")).body);
    expect(doc).toContain(JSON.stringify(["openai", "anthropic", "google"]));
    expect(doc).toContain(JSON.stringify(["openai", "anthropic", "google", "pinecone"]));
  });
});
