import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect } from "vitest";
import { Galaxy, GalaxyApiError, ok, verifyCompletionCallback, WebhookVerificationError, type CompletionCallback, type Execution, type StreamItem } from "@galaxy/sdk";
import { galaxyTest, startGalaxyFirst } from "./fixtures";
import { eventually } from "./harness";

/** Where completion callbacks arrive: every request as it came, answered 200. */
interface Receiver {
  url: string;
  requests: Array<{ headers: IncomingHttpHeaders; body: string }>;
  close(): Promise<void>;
}

async function receiver(): Promise<Receiver> {
  const requests: Receiver["requests"] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      requests.push({ headers: request.headers, body: Buffer.concat(chunks).toString("utf8") });
      response.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/galaxy`, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/**
 * `galaxy`: the running system (callbacks may reach this machine because the allowlist names it);
 * `callbacks`: where its completion callbacks arrive, started before the first test.
 */
const test = galaxyTest({ worker: { outboundHostAllowlist: "127.0.0.1", callbacks: { backoffBaseMs: 200, pollIntervalMs: 50, timeoutMs: 5_000 } } })
  .extend("callbacks", { scope: "file", auto: true }, async ({}, { onCleanup }) => {
    const callbacks = await receiver();
    onCleanup(() => callbacks.close());
    return callbacks;
  });
startGalaxyFirst(test);

/** Starts an execution once the worker knows the agent is active (it follows the registry within moments). */
async function start(client: Galaxy, agentId: string, input: unknown): Promise<Execution> {
  return eventually(async () => {
    try {
      return (await ok(client.api.POST("/api/agents/{id}/executions", { params: { path: { id: agentId } }, body: { input } }))).data;
    } catch (error) {
      if (error instanceof GalaxyApiError && error.code === "agent_not_active") return undefined;
      throw error;
    }
  }, 10_000, "the execution to start");
}

describe("the README walk-through, through @galaxy/sdk", () => {
  let owner: Galaxy;
  let withKey: Galaxy;
  let agentId = "";
  let notifySecret = "";
  let executionId = "";

  test("sign up, and an API key for the rest", async ({ galaxy }) => {
    const anonymous = new Galaxy({ baseUrl: galaxy.url });
    const { data: account } = await ok(anonymous.api.POST("/api/auth/signup", { body: { email: "sam@sdk.example", password: "correct horse battery", name: "Sam", workspaceName: "SDK" } }));
    owner = anonymous.withToken(account.accessToken);
    const { data: key } = await ok(owner.api.POST("/api/api-keys", { body: { name: "ci", role: "admin" } }));
    expect(key.key).toMatch(/^gxk_/);
    withKey = new Galaxy({ baseUrl: galaxy.url, token: key.key });
    const { data: me } = await ok(withKey.api.GET("/api/me"));
    expect(me.workspace.id).toBe(account.workspace.id);
  });

  test("errors are typed and carry their code", async () => {
    const error = await ok(withKey.api.GET("/api/agents/{id}", { params: { path: { id: "0193a1b2-0000-7000-8000-000000000000" } } })).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(GalaxyApiError);
    expect(error).toMatchObject({ status: 404, code: "agent_not_found" });
  });

  test("a knowledge base with a document, and an agent that searches it and calls back", async ({ callbacks }) => {
    const { data: kb } = await ok(withKey.api.POST("/api/knowledge-bases", { body: { name: "Handbook" } }));
    await ok(withKey.api.POST("/api/knowledge-bases/{id}/documents", { params: { path: { id: kb.id } }, body: { title: "Shipping", text: "Orders to Europe ship from Rotterdam within a week." } }));
    const { data: agent } = await ok(
      withKey.api.POST("/api/agents", { body: { name: "Echo", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "Repeat.", knowledgeBaseIds: [kb.id], notifyUrl: callbacks.url } }),
    );
    expect(agent.notifySecret).toMatch(/^whsec_/);
    agentId = agent.id;
    notifySecret = agent.notifySecret ?? "";
    const { data: active } = await ok(withKey.api.POST("/api/agents/{id}/activate", { params: { path: { id: agentId } } }));
    expect(active.status).toBe("active");
  });

  test("a webhook trigger, and a signed delivery that starts an execution once", async () => {
    const { data: trigger } = await ok(withKey.api.POST("/api/agents/{id}/triggers", { params: { path: { id: agentId } }, body: { type: "webhook" } }));
    if (trigger.type !== "webhook" || !trigger.secret) throw new Error(`expected a webhook trigger with its secret, got ${JSON.stringify(trigger)}`);
    const secret = trigger.secret;
    const delivered = await eventually(async () => {
      try {
        return await withKey.deliverWebhook(trigger.id, secret, { message: "hello from a webhook" }, { id: "msg_sdk_1" });
      } catch (error) {
        if (error instanceof GalaxyApiError && error.code === "agent_not_active") return undefined;
        throw error;
      }
    }, 10_000, "the delivery to be accepted");
    const again = await withKey.deliverWebhook(trigger.id, secret, { message: "hello from a webhook" }, { id: "msg_sdk_1" });
    expect(again.executionId).toBe(delivered.executionId);
    executionId = delivered.executionId;
  });

  test("stream the execution's events to its end, then wait for it", async () => {
    await eventually(async () => (await withKey.api.GET("/api/executions/{id}", { params: { path: { id: executionId } } }).then(() => true).catch(() => undefined)), 10_000, "the execution");
    const items: StreamItem[] = [];
    for await (const item of withKey.events(executionId)) items.push(item);
    const events = items.flatMap((item) => (item.kind === "event" ? [item] : []));
    expect(events[0]?.type).toBe("execution.queued");
    expect(events.at(-1)?.type).toBe("execution.completed");
    expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index + 1));

    // Resuming after the third event gives the rest, and nothing twice.
    const resumed: number[] = [];
    for await (const item of withKey.events(executionId, { lastEventId: 3 })) if (item.kind === "event") resumed.push(item.seq);
    expect(resumed).toEqual(events.slice(3).map((event) => event.seq));

    const done = await withKey.waitForCompletion(executionId, { timeoutMs: 15_000 });
    expect(done).toMatchObject({ status: "completed", trigger: { type: "webhook" }, output: { text: "echo: hello from a webhook" } });
  });

  test("start another execution and wait for it; the executions list pages through both", async () => {
    const started = await start(withKey, agentId, { message: "hello" });
    expect((await withKey.waitForCompletion(started.id, { timeoutMs: 15_000 })).output?.text).toBe("echo: hello");
    const listed: string[] = [];
    for await (const execution of withKey.paginate((page) => withKey.api.GET("/api/executions", { params: { query: { ...page, status: "completed" } } }), { limit: 1 })) listed.push(execution.id);
    expect(listed.sort()).toEqual([executionId, started.id].sort());
  });

  test("the completion callback verifies with the agent's notifySecret, and a forged one does not", async ({ callbacks }) => {
    const verified: CompletionCallback[] = await eventually(async () => {
      const received = callbacks.requests.map((request) => verifyCompletionCallback(notifySecret, request.body, request.headers as Record<string, string>));
      return received.length >= 2 ? received : undefined;
    }, 20_000, "two completion callbacks");
    expect(verified.map((callback) => callback.data.execution.id)).toContain(executionId);
    expect(verified.every((callback) => callback.type === "execution.completed")).toBe(true);
    const first = callbacks.requests[0];
    if (!first) throw new Error("no callback arrived");
    expect(() => verifyCompletionCallback(notifySecret, first.body.replace("completed", "failed"), first.headers as Record<string, string>)).toThrow(WebhookVerificationError);
  });

  test("the audit log pages by cursor and its chain verifies", async () => {
    const actions: string[] = [];
    for await (const entry of owner.paginate((page) => owner.api.GET("/api/audit-logs", { params: { query: page } }), { limit: 5 })) actions.push(entry.action);
    expect(actions).toEqual(expect.arrayContaining(["agent.created", "trigger.created"]));
    const { data: verification } = await ok(owner.api.GET("/api/audit-logs/verify"));
    expect(verification.valid).toBe(true);
  });
});
