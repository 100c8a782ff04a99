import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect } from "vitest";
import { z } from "zod";
import { Agent, EventEnvelope, Execution, ExecutionDelta, ExecutionStep, KnowledgeBase, KnowledgeDocument, SignupResult, ToolSecretReply } from "@galaxy/contracts";
import { verifyWebhook } from "@galaxy/webhooks";
import { webhookToolSecret } from "@galaxy/execution-worker";
import { galaxyTest, startGalaxyFirst } from "./fixtures";
import { api, dataOf, eventually } from "./harness";

/**
 * The execution pipeline end to end, through the gateway, on each provider's API (OpenAI,
 * Anthropic, Google Gemini) through its own SDK: tools (builtin and webhook), knowledge, the
 * output schema, retries against the dev model's 429s and 500s, streamed deltas.
 */

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

const PROVIDERS = ["openai", "anthropic", "google"] as const;

/**
 * - `receiver`: a webhook tool's owner: records what Galaxy sends (`received`) and answers the
 *   weather at `receiverUrl`;
 * - `steps`, `deltas`: `execution.step_completed` events and token deltas, by execution id, watched
 *   from before the first test;
 * - `token`, `workspaceId`: Grace's, signed up before the first test;
 * - `activeAgentOf`: an active agent of Grace's; `run`: starts an execution and waits for its end;
 *   its steps are the events seen by then;
 * - `provider` (each test's, set per provider's suite with `test.override`) and `activeAgent`: an
 *   active agent of Grace's on that provider.
 */
const test = galaxyTest({ worker: { outboundHostAllowlist: "127.0.0.1", maxRetries: 2 } })
  .extend("receiver", { scope: "file" }, async ({}, { onCleanup }) => {
    const received: Received[] = [];
    const server: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ temperature: 21, unit: "celsius" }));
      });
    });
    onCleanup(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/weather`, received };
  })
  .extend("receiverUrl", { scope: "file" }, async ({ receiver }) => receiver.url)
  .extend("received", { scope: "file" }, async ({ receiver }) => receiver.received)
  .extend("steps", { scope: "file", auto: true }, async ({ galaxy }) => {
    const steps = new Map<string, ExecutionStep[]>();
    galaxy.observer.watch("evt.*.execution.step_completed", (msg) => {
      const envelope = EventEnvelope.parse(msg.json());
      const data = z.object({ executionId: z.string(), step: ExecutionStep }).parse(envelope.data);
      steps.set(data.executionId, [...(steps.get(data.executionId) ?? []), data.step]);
    });
    return steps;
  })
  .extend("deltas", { scope: "file", auto: true }, async ({ galaxy }) => {
    const deltas = new Map<string, ExecutionDelta[]>();
    galaxy.observer.watch("live.*.execution.*", (msg) => {
      const delta = ExecutionDelta.parse(msg.json());
      deltas.set(delta.executionId, [...(deltas.get(delta.executionId) ?? []), delta]);
    });
    await galaxy.observer.flush();
    return deltas;
  })
  .extend("grace", { scope: "file", auto: true }, async ({ galaxy }) => {
    const signup = await api(galaxy, "POST", "/api/auth/signup", { body: { email: "grace@example.com", password: "correct horse battery", name: "Grace", workspaceName: "Pipelines" } });
    return dataOf(SignupResult, signup);
  })
  .extend("token", { scope: "file" }, async ({ grace }) => grace.accessToken)
  .extend("workspaceId", { scope: "file" }, async ({ grace }) => grace.workspace.id)
  .extend("activeAgentOf", { scope: "file" }, async ({ galaxy, token }) => async (body: Record<string, unknown>): Promise<Agent> => {
    const created = await api(galaxy, "POST", "/api/agents", { token, body: { name: "Pipeline", systemPrompt: "You help.", model: "galaxy-dev-tools", ...body } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const agent = dataOf(Agent, created);
    const activated = await api(galaxy, "POST", `/api/agents/${agent.id}/activate`, { token });
    expect(activated.status).toBe(200);
    return agent;
  })
  .extend("run", { scope: "file" }, async ({ galaxy, token, steps }) => async (agentId: string, message: string): Promise<{ execution: Execution; steps: ExecutionStep[] }> => {
    const started = await api(galaxy, "POST", `/api/agents/${agentId}/executions`, { token, body: { input: { message } } });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const { id } = dataOf(Execution, started);
    const execution = await eventually(async () => {
      const current = dataOf(Execution, await api(galaxy, "GET", `/api/executions/${id}`, { token }));
      return current.status === "queued" || current.status === "running" ? undefined : current;
    }, 20_000, `execution ${id} to finish`);
    // The last step's event is committed with the final record; the relay may publish it a moment later.
    const seen = await eventually(async () => {
      const list = steps.get(id) ?? [];
      const last = list.at(-1);
      return last && (last.name === "output" || last.status === "failed") ? list : undefined;
    }, 10_000, `the steps of ${id}`);
    return { execution, steps: seen };
  })
  .extend("provider", "openai" as (typeof PROVIDERS)[number])
  .extend("activeAgent", async ({ activeAgentOf, provider }) => (body: Record<string, unknown>) => activeAgentOf({ provider, ...body }));
startGalaxyFirst(test);

test.beforeEach(async ({ galaxy }) => {
  await galaxy.devModel.control({ reset: true });
});

const calculatorAgent = { tools: [{ type: "builtin", name: "calculator" }, { type: "builtin", name: "current_time" }] };

describe.each(PROVIDERS)("the execution pipeline on %s", (provider) => {
  test.override("provider", provider);

  test("an agent with calculator and current_time tools completes with a step for each tool call, and its tokens streamed live", async ({ deltas, run, activeAgent }) => {
    const agent = await activeAgent(calculatorAgent);
    const { execution, steps: seen } = await run(agent.id, "2 + 3 * 4");
    expect(execution.status).toBe("completed");
    // galaxy-dev-tools calls each tool once, in order, then echoes the last result.
    expect(execution.output?.text).toMatch(/^echo: 2 \+ 3 \* 4 \(tool: \d{4}-\d{2}-\d{2}T/);
    expect(seen.map((step) => [step.name, step.status])).toEqual([
      ["model_call", "completed"],
      ["tool_call", "completed"],
      ["model_call", "completed"],
      ["tool_call", "completed"],
      ["model_call", "completed"],
      ["output", "completed"],
    ]);
    const toolSteps = seen.filter((step) => step.name === "tool_call");
    expect(toolSteps[0]?.detail).toMatchObject({ tool: "calculator", type: "builtin", arguments: JSON.stringify({ expression: "2 + 3 * 4" }), result: "14", round: 1 });
    expect(toolSteps[1]?.detail).toMatchObject({ tool: "current_time", round: 2 });
    for (const step of seen) expect(step.durationMs).toBe(Date.parse(step.completedAt) - Date.parse(step.startedAt));
    expect(seen[0]?.detail).toMatchObject({ provider, model: "galaxy-dev-tools" });

    // Usage sums every round; the dev models are free.
    const modelSteps = seen.filter((step) => step.name === "model_call");
    const inputTokens = modelSteps.reduce((sum, step) => sum + Number(step.detail.inputTokens), 0);
    expect(execution.usage.inputTokens).toBe(inputTokens);
    expect(execution.usage.outputTokens).toBeGreaterThan(0);
    expect(execution.usage.totalTokens).toBe(execution.usage.inputTokens + execution.usage.outputTokens);
    expect(execution.usage.costUsd).toBe(0);
    // Each model call's step carries its own cost (what galaxy_model_cost_usd_total counts).
    for (const step of modelSteps) expect(step.detail).toHaveProperty("costUsd", 0);
    expect(execution.durationMs).toBeGreaterThan(0);

    // The final answer's text arrived as deltas on live.<ws>.execution.<id>, in order.
    const live = await eventually(async () => {
      const list = deltas.get(execution.id) ?? [];
      return list.map((d) => d.delta).join("") === execution.output?.text ? list : undefined;
    }, 5_000, "the deltas");
    expect(live.map((d) => d.index)).toEqual(live.map((_, i) => i));
  });

  test("a calculator call with an expression it cannot read is a failed tool step, and the model gets the error", async ({ run, activeAgent }) => {
    const agent = await activeAgent({ tools: [{ type: "builtin", name: "calculator" }] });
    const { execution, steps: seen } = await run(agent.id, "2 + * 4");
    expect(execution.status).toBe("completed");
    expect(execution.output?.text).toBe("echo: 2 + * 4 (tool: error: Unexpected '*' at position 5)");
    expect(seen.find((step) => step.name === "tool_call")).toMatchObject({ status: "failed", detail: { error: { code: "invalid_arguments" } } });
  });

  test("output.json holds the answer's JSON when it matches the outputSchema; a violation fails cleanly", async ({ run, activeAgent }) => {
    const outputSchema = { type: "object", properties: { answer: { type: "number" } }, required: ["answer"] };
    const agent = await activeAgent({ model: "galaxy-dev-echo", outputSchema });

    const good = await run(agent.id, '{"answer": 42}');
    expect(good.execution.status).toBe("completed");
    expect(good.execution.output).toEqual({ text: 'echo: {"answer": 42}', json: { answer: 42 } });

    const bad = await run(agent.id, '{"answer": "forty-two"}');
    expect(bad.execution.status).toBe("failed");
    expect(bad.execution.output).toBeNull();
    expect(bad.execution.error).toEqual({ code: "output_schema_violation", message: "The answer does not match the agent's outputSchema: /answer must be number" });
    expect(bad.execution.usage.totalTokens).toBeGreaterThan(0);
    expect(bad.steps.at(-1)).toMatchObject({ name: "output", status: "failed" });

    const notJson = await run(agent.id, "no JSON here");
    expect(notJson.execution.error?.code).toBe("output_schema_violation");
  });

  test("a webhook tool receives a call signed with the agent's tool secret, and its answer goes back to the model", async ({ galaxy, token, workspaceId, received, receiverUrl, run, activeAgent }) => {
    const agent = await activeAgent({
      tools: [{ type: "webhook", name: "weather", description: "The weather in a city", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }, url: receiverUrl }],
    });
    const before = received.length;
    const { execution, steps: seen } = await run(agent.id, "Paris");
    expect(execution.status).toBe("completed");
    expect(execution.output?.text).toBe('echo: Paris (tool: {"temperature":21,"unit":"celsius"})');
    expect(received.length).toBe(before + 1);
    const call = received.at(-1);
    if (!call) throw new Error("no call received");
    const body = z.object({ executionId: z.string(), agentId: z.string(), tool: z.string(), callId: z.string(), arguments: z.unknown() }).parse(JSON.parse(call.body));
    expect(body).toMatchObject({ executionId: execution.id, agentId: agent.id, tool: "weather", arguments: { city: "Paris" } });

    // The receiver verifies the Standard Webhooks signature with the agent's tool secret, read once by an admin.
    const response = await api(galaxy, "GET", `/api/agents/${agent.id}/tool-secret`, { token });
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const { secret } = dataOf(ToolSecretReply, response);
    expect(secret).toBe(webhookToolSecret(galaxy.env.masterKey, workspaceId, agent.id));
    const headers = { id: String(call.headers["webhook-id"]), timestamp: String(call.headers["webhook-timestamp"]), signature: String(call.headers["webhook-signature"]) };
    expect(verifyWebhook([secret], headers, Buffer.from(call.body), Math.floor(Date.now() / 1000))).toMatchObject({ ok: true });
    // Another agent's secret does not verify it.
    expect(verifyWebhook([webhookToolSecret(galaxy.env.masterKey, workspaceId, execution.id)], headers, Buffer.from(call.body), Math.floor(Date.now() / 1000))).toMatchObject({ ok: false });
    expect(seen.find((step) => step.name === "tool_call")).toMatchObject({ status: "completed", detail: { tool: "weather", type: "webhook", status: 200 } });
  });

  test("a webhook tool on a host OUTBOUND_HOST_ALLOWLIST does not name is refused, and nothing is sent", async ({ received, receiverUrl, run, activeAgent }) => {
    const port = new URL(receiverUrl).port;
    const agent = await activeAgent({
      tools: [{ type: "webhook", name: "elsewhere", description: "Not allowed", parameters: { type: "object", properties: {} }, url: `http://localhost:${port}/weather` }],
    });
    const before = received.length;
    const { execution, steps: seen } = await run(agent.id, "hi");
    expect(execution.status).toBe("completed");
    expect(execution.output?.text).toBe("echo: hi (tool: error: localhost is not on OUTBOUND_HOST_ALLOWLIST)");
    expect(received.length).toBe(before);
    expect(seen.find((step) => step.name === "tool_call")).toMatchObject({ status: "failed", detail: { error: { code: "outbound_refused" }, reason: "host_not_allowed" } });
  });

  test("the model answering 429 twice is retried, and the execution completes", async ({ galaxy, run, activeAgent }) => {
    const agent = await activeAgent({ model: "galaxy-dev-echo" });
    await galaxy.devModel.control({ failNext: { count: 2, status: 429 } });
    const { execution } = await run(agent.id, "again");
    expect(execution.status).toBe("completed");
    expect(execution.output?.text).toBe("echo: again");
    const settings = await galaxy.devModel.settings();
    expect(settings.modelCalls).toBe(3);
  });

  test("a provider that keeps failing past the retries, or refuses the call, fails the execution with its message", async ({ galaxy, run, activeAgent }) => {
    const agent = await activeAgent({ model: "galaxy-dev-echo" });
    await galaxy.devModel.control({ failNext: { count: 3, status: 500 } });
    const exhausted = await run(agent.id, "hello");
    expect(exhausted.execution.status).toBe("failed");
    expect(exhausted.execution.error?.code).toBe("provider_error");
    expect(exhausted.execution.error?.message).toContain("The server had an error while processing your request");

    const unknown = await activeAgent({ model: "galaxy-dev-nope" });
    const refused = await run(unknown.id, "hello");
    expect(refused.execution.error).toMatchObject({ code: "provider_error" });
    expect(refused.execution.error?.message).toContain("The model `galaxy-dev-nope` does not exist");
  });

  test("the workspace's large budget never becomes max_tokens: an agent without maxTokens runs, and its own maxTokens cutting the answer is no budget failure", async ({ run, activeAgent }) => {
    // The dev model refuses max_tokens above 128k as real models do; the free tier's budget is 200k.
    const unlimited = await activeAgent({ model: "galaxy-dev-echo" });
    const { execution } = await run(unlimited.id, "no limit set");
    expect(execution.status, JSON.stringify(execution.error)).toBe("completed");
    expect(execution.output?.text).toBe("echo: no limit set");

    const short = await activeAgent({ model: "galaxy-dev-echo", maxTokens: 2 });
    const cut = await run(short.id, "a long answer cut by the agent's own limit");
    expect(cut.execution.status, JSON.stringify(cut.execution.error)).toBe("completed");
    expect(cut.execution.usage.outputTokens).toBe(2);
  });

  test("an agent with a knowledge base and the knowledge_search and calculator tools: context, then each tool, then the answer", async ({ galaxy, token, run, activeAgent }) => {
    // On Google, the knowledge base embeds with Gemini too.
    const embeddingProvider = provider === "google" ? "google" : "openai";
    const kbResponse = await api(galaxy, "POST", "/api/knowledge-bases", { token, body: { name: "Handbook", embeddingProvider } });
    expect(kbResponse.status, JSON.stringify(kbResponse.body)).toBe(201);
    const kb = dataOf(KnowledgeBase, kbResponse);
    expect(kb.embeddingProvider).toBe(embeddingProvider);
    const text = "Galaxy answers 2 + 3 * 4 with its calculator tool. Agents run on NATS JetStream and Postgres.";
    const added = await api(galaxy, "POST", `/api/knowledge-bases/${kb.id}/documents`, { token, body: { title: "Calculator notes", text } });
    expect(added.status, JSON.stringify(added.body)).toBe(202);
    await eventually(async () => {
      const listed = await api(galaxy, "GET", `/api/knowledge-bases/${kb.id}/documents`, { token });
      const documents = z.object({ data: z.array(KnowledgeDocument) }).parse(listed.body).data;
      return documents.length === 1 && documents[0]?.status === "indexed" ? true : undefined;
    }, 15_000, "the document to be indexed");

    const agent = await activeAgent({ knowledgeBaseIds: [kb.id], tools: [{ type: "builtin", name: "knowledge_search" }, { type: "builtin", name: "calculator" }] });
    const { execution, steps: seen } = await run(agent.id, "2 + 3 * 4");
    expect(execution.status, JSON.stringify(execution.error)).toBe("completed");
    expect(execution.output?.text).toBe("echo: 2 + 3 * 4 (tool: 14)");
    expect(seen.map((step) => [step.name, step.status])).toEqual([
      ["context", "completed"],
      ["model_call", "completed"],
      ["tool_call", "completed"],
      ["model_call", "completed"],
      ["tool_call", "completed"],
      ["model_call", "completed"],
      ["output", "completed"],
    ]);
    expect(seen[0]?.detail).toMatchObject({ knowledgeBaseIds: [kb.id], hits: 1 });
    const [search, calculator] = seen.filter((step) => step.name === "tool_call");
    expect(search?.detail).toMatchObject({ tool: "knowledge_search", hits: 1, arguments: JSON.stringify({ query: "2 + 3 * 4" }) });
    expect(String(search?.detail.result)).toContain("Galaxy answers 2 + 3 * 4 with its calculator tool.");
    expect(calculator?.detail).toMatchObject({ tool: "calculator", result: "14" });

    // The passages went into the system prompt: the first call read more tokens than the same agent without them.
    const plain = await activeAgent({ tools: [{ type: "builtin", name: "knowledge_search" }, { type: "builtin", name: "calculator" }] });
    const withoutContext = await run(plain.id, "2 + 3 * 4");
    expect(Number(seen[1]?.detail.inputTokens)).toBeGreaterThan(Number(withoutContext.steps[0]?.detail.inputTokens));
    // Without knowledge bases, knowledge_search is a failed call the model reads, and the run goes on.
    expect(withoutContext.steps.find((step) => step.name === "tool_call")).toMatchObject({ status: "failed", detail: { tool: "knowledge_search" } });
  });
});
