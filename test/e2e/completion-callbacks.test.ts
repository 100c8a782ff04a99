import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect } from "vitest";
import { z } from "zod";
import { Agent, AuditEntry, CallbackDelivery, EventEnvelope, Execution, ExecutionFinished, Pagination, SavedAgent, SignupResult } from "@galaxy/contracts";
import { verifyWebhook } from "@galaxy/webhooks";
import { galaxyTest, startGalaxyFirst } from "./fixtures";
import { api, dataOf, eventually } from "./harness";

/** A receiver of callbacks: records each request as it came, answers the statuses it is told, in turn. */
interface Receiver {
  url: string;
  requests: Array<{ headers: IncomingHttpHeaders; body: Buffer }>;
  close(): Promise<void>;
}

async function startReceiver(statuses: number[], host = "127.0.0.1"): Promise<Receiver> {
  const requests: Receiver["requests"] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      requests.push({ headers: request.headers, body: Buffer.concat(chunks) });
      response.statusCode = statuses[requests.length - 1] ?? 200;
      response.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://${host}:${port}/galaxy/callbacks`, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const one = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

const DeliveryPage = z.object({ data: z.array(CallbackDelivery), pagination: Pagination });
const agentBody = { name: "Notifier", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "" };

/**
 * - `owner`: signed up before the first test;
 * - `receiver`: starts a receiver of callbacks, closed after the file's last test;
 * - `activeAgent`: an active agent of the owner's that calls `notifyUrl` back, and its secret;
 * - `run`: starts an execution of it, once the worker's projection has it;
 * - `deliveries`: waits until an execution's callback deliveries are `done`.
 */
const test = galaxyTest({
  // Callbacks may reach this machine only because the allowlist names it; retries come after 200 ms, 400 ms…
  worker: { outboundHostAllowlist: "127.0.0.1", callbacks: { backoffBaseMs: 200, pollIntervalMs: 50, timeoutMs: 5_000 } },
})
  .extend("owner", { scope: "file", auto: true }, async ({ galaxy }) =>
    dataOf(SignupResult, await api(galaxy, "POST", "/api/auth/signup", { body: { email: "owner@callbacks.example", password: "correct horse battery", name: "Owner", workspaceName: "Callbacks" } })))
  .extend("receiver", { scope: "file" }, async ({}, { onCleanup }) => {
    const receivers: Receiver[] = [];
    onCleanup(async () => {
      for (const r of receivers) await r.close();
    });
    return async (statuses: number[], host?: string): Promise<Receiver> => {
      const started = await startReceiver(statuses, host);
      receivers.push(started);
      return started;
    };
  })
  .extend("activeAgent", { scope: "file" }, async ({ galaxy, owner }) => async (notifyUrl: string): Promise<{ agent: Agent; secret: string }> => {
    const created = dataOf(SavedAgent, await api(galaxy, "POST", "/api/agents", { token: owner.accessToken, body: { ...agentBody, notifyUrl } }));
    if (!created.notifySecret) throw new Error("the create answer showed no notifySecret");
    expect((await api(galaxy, "POST", `/api/agents/${created.id}/activate`, { token: owner.accessToken })).status).toBe(200);
    return { agent: created, secret: created.notifySecret };
  })
  .extend("run", { scope: "file" }, async ({ galaxy, owner }) => (agentId: string, message: string): Promise<Execution> =>
    eventually(async () => {
      // The worker's projection follows the registry within moments: until then a start may be refused.
      const response = await api(galaxy, "POST", `/api/agents/${agentId}/executions`, { token: owner.accessToken, body: { input: { message } } });
      return response.status === 202 ? dataOf(Execution, response) : undefined;
    }, 10_000, "the execution to start"))
  .extend("deliveries", { scope: "file" }, async ({ galaxy, owner }) => (executionId: string, done: (items: CallbackDelivery[]) => boolean): Promise<CallbackDelivery[]> =>
    eventually(async () => {
      const response = await api(galaxy, "GET", `/api/executions/${executionId}/deliveries`, { token: owner.accessToken });
      const page = DeliveryPage.parse(response.body);
      return done(page.data) ? page.data : undefined;
    }, 20_000, `the deliveries of ${executionId}`));

describe("completion callbacks", () => {
  test("a receiver that fails twice gets three signed attempts; the third is recorded delivered", async ({ receiver, activeAgent, run, deliveries }) => {
    const target = await receiver([500, 503, 200]);
    const { agent, secret } = await activeAgent(target.url);
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);

    const execution = await run(agent.id, "call me back");
    const attempts = await deliveries(execution.id, (items) => items.some((d) => d.status === "delivered"));
    expect(attempts).toEqual([
      { attempt: 1, url: target.url, status: "failed", responseStatus: 500, at: expect.any(String) },
      { attempt: 2, url: target.url, status: "failed", responseStatus: 503, at: expect.any(String) },
      { attempt: 3, url: target.url, status: "delivered", responseStatus: 200, at: expect.any(String) },
    ]);
    expect(target.requests).toHaveLength(3);

    // Every attempt carries the same event, signed the Standard Webhooks way with the agent's secret.
    const ids = new Set<string>();
    for (const request of target.requests) {
      const signed = { id: one(request.headers["webhook-id"]), timestamp: one(request.headers["webhook-timestamp"]), signature: one(request.headers["webhook-signature"]) };
      const now = Math.floor(Date.now() / 1000);
      expect(verifyWebhook([secret], signed, request.body, now)).toMatchObject({ ok: true });
      expect(verifyWebhook([`whsec_${Buffer.alloc(32, 1).toString("base64")}`], signed, request.body, now)).toMatchObject({ ok: false, reason: "bad_signature" });
      const event = EventEnvelope.parse(JSON.parse(request.body.toString("utf8")));
      expect(event.type).toBe("execution.completed");
      expect(request.headers["webhook-id"]).toBe(event.id);
      const data = ExecutionFinished.parse(event.data);
      expect(data.execution).toMatchObject({ id: execution.id, agentId: agent.id, agentVersion: 1, status: "completed", output: { text: "echo: call me back" } });
      ids.add(event.id);
    }
    expect(ids.size).toBe(1);
  });

  test("a URL the allowlist does not name is recorded as failed and never called", async ({ receiver, activeAgent, run, deliveries }) => {
    // The same receiver, reachable, but named by a host the allowlist does not list.
    const target = await receiver([200], "localhost");
    const { agent } = await activeAgent(target.url);
    const execution = await run(agent.id, "nobody hears this");
    const attempts = await deliveries(execution.id, (items) => items.length > 0 && items.every((d) => d.status !== "pending"));
    expect(attempts).toEqual([{ attempt: 1, url: target.url, status: "failed", responseStatus: null, at: expect.any(String) }]);
    expect(target.requests).toHaveLength(0);
  });

  test("an agent without notifyUrl has no deliveries; viewers of another workspace get a 404", async ({ galaxy, owner, run }) => {
    const agent = dataOf(Agent, await api(galaxy, "POST", "/api/agents", { token: owner.accessToken, body: agentBody }));
    expect((await api(galaxy, "POST", `/api/agents/${agent.id}/activate`, { token: owner.accessToken })).status).toBe(200);
    const execution = await run(agent.id, "quiet");
    await eventually(async () => {
      const current = dataOf(Execution, await api(galaxy, "GET", `/api/executions/${execution.id}`, { token: owner.accessToken }));
      return current.status === "completed" ? true : undefined;
    }, 15_000, "the execution to complete");
    const page = DeliveryPage.parse((await api(galaxy, "GET", `/api/executions/${execution.id}/deliveries`, { token: owner.accessToken })).body);
    expect(page).toEqual({ data: [], pagination: { total: 0, limit: 20, offset: 0, hasMore: false, nextCursor: null } });

    const outsider = dataOf(SignupResult, await api(galaxy, "POST", "/api/auth/signup", { body: { email: "outsider@callbacks.example", password: "correct horse battery", name: "Out", workspaceName: "Out" } }));
    const foreign = await api(galaxy, "GET", `/api/executions/${execution.id}/deliveries`, { token: outsider.accessToken });
    expect(foreign.status).toBe(404);
    expect(z.object({ code: z.string() }).parse(foreign.body).code).toBe("execution_not_found");
  });

  test("the secret is shown once: not by reads, lists, replays or events; a new notifyUrl gets a new one", async ({ galaxy, owner, receiver }) => {
    const target = await receiver([]);
    const headers = { "idempotency-key": "create-notifier-once" };
    const first = await api(galaxy, "POST", "/api/agents", { token: owner.accessToken, body: { ...agentBody, notifyUrl: target.url }, headers });
    const created = dataOf(SavedAgent, first);
    expect(created.notifySecret).toMatch(/^whsec_/);
    const replay = await api(galaxy, "POST", "/api/agents", { token: owner.accessToken, body: { ...agentBody, notifyUrl: target.url }, headers });
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(dataOf(SavedAgent, replay)).toEqual({ ...created, notifySecret: undefined });
    expect(JSON.stringify(replay.body)).not.toContain("whsec_");

    expect(JSON.stringify((await api(galaxy, "GET", `/api/agents/${created.id}`, { token: owner.accessToken })).body)).not.toContain("whsec_");
    expect(JSON.stringify((await api(galaxy, "GET", "/api/agents?limit=100", { token: owner.accessToken })).body)).not.toContain("whsec_");
    expect(JSON.stringify((await api(galaxy, "GET", `/api/agents/${created.id}/versions`, { token: owner.accessToken })).body)).not.toContain("whsec_");

    // Another field changes: the URL keeps its secret, and the answer shows none.
    const renamed = dataOf(SavedAgent, await api(galaxy, "PATCH", `/api/agents/${created.id}`, { token: owner.accessToken, body: { name: "Renamed notifier" } }));
    expect(renamed).toMatchObject({ version: 2 });
    expect(renamed.notifySecret).toBeUndefined();
    // A new URL: a new secret, shown in this answer.
    const moved = dataOf(SavedAgent, await api(galaxy, "PATCH", `/api/agents/${created.id}`, { token: owner.accessToken, body: { notifyUrl: `${target.url}/v2` } }));
    expect(moved).toMatchObject({ version: 3, notifyUrl: `${target.url}/v2` });
    expect(moved.notifySecret).toMatch(/^whsec_/);
    expect(moved.notifySecret).not.toBe(created.notifySecret);

    const audit = await eventually(async () => {
      const response = await api(galaxy, "GET", `/api/audit-logs?resourceId=${created.id}`, { token: owner.accessToken });
      const entries = z.object({ data: z.array(AuditEntry) }).parse(response.body).data;
      return entries.length >= 3 ? entries : undefined;
    }, 10_000, "the agent's audit entries");
    expect(audit.map((e) => e.action).sort()).toEqual(["agent.created", "agent.updated", "agent.updated"]);
    expect(JSON.stringify(audit)).not.toContain("whsec_");
  });
});

startGalaxyFirst(test);