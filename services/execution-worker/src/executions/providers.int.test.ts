import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, test as baseTest } from "vitest";
import { startDevModel, type RunningDevModel } from "@galaxy/dev-model/testing";
import type { AgentConfig } from "@galaxy/contracts";
import { parseAllowlist } from "@galaxy/webhooks";
import { ModelCallError } from "../errors";
import { toolSpecs } from "../tools/tools";
import { modelRequest, type ToolRound } from "./messages";
import { MAX_PROVIDER_MESSAGE_CHARS, ModelProviders } from "./providers";
import { closeDevModel } from "../../test/support/harness";

/** The providers against the dev model server, through the real SDKs, streamed. */

const config = (overrides: Partial<AgentConfig> = {}): AgentConfig => ({
  name: "Test",
  description: null,
  provider: "openai",
  model: "galaxy-dev-tools",
  systemPrompt: "You help.",
  temperature: null,
  maxTokens: null,
  tools: [{ type: "builtin", name: "calculator" }],
  knowledgeBaseIds: [],
  inputSchema: null,
  outputSchema: null,
  timeoutMs: null,
  notifyUrl: null,
  ...overrides,
});

/** The three providers' endpoints, all at one server (the dev model server, or a stand-in). */
const endpoints = (url: string) => ({
  openaiApiKey: "galaxy-dev",
  openaiBaseUrl: `${url}/v1`,
  anthropicApiKey: "galaxy-dev",
  anthropicBaseUrl: url,
  googleApiKey: "galaxy-dev",
  googleBaseUrl: url,
});
const PROVIDERS = ["openai", "anthropic", "google"] as const;
const CALL_ID = { openai: /^call_/, anthropic: /^toolu_/, google: /^call_/ } as const;

const signal = () => new AbortController().signal;

/**
 * The file's dev model server (`devModel`, reset before every test), the providers against it
 * (`providers`), and `modelCalls`: how many model calls it received since its last reset.
 */
const test = baseTest
  .extend("devModel", { scope: "file" }, async ({}, { onCleanup }): Promise<RunningDevModel> => {
    const devModel = await startDevModel();
    onCleanup(() => closeDevModel(devModel));
    return devModel;
  })
  .extend("providers", { scope: "file" }, async ({ devModel }) => new ModelProviders({ ...endpoints(devModel.url), maxRetries: 2 }))
  .extend("modelCalls", { scope: "file" }, async ({ devModel }) => async () => (await devModel.settings()).modelCalls);
test.beforeEach(async ({ devModel }) => devModel.control({ reset: true }));

describe.each(PROVIDERS)("a %s model", (provider) => {
  test("streams its text to onDelta, and reports the tokens", async ({ providers }) => {
    const agent = config({ provider, model: "galaxy-dev-echo", tools: [] });
    const pieces: string[] = [];
    const answer = await providers.complete(modelRequest(agent, { message: "one two three" }), signal(), undefined, (delta) => pieces.push(delta));
    expect(answer.text).toBe("echo: one two three");
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces.join("")).toBe(answer.text);
    expect(answer.toolCalls).toEqual([]);
    expect(answer.inputTokens).toBeGreaterThan(0);
    expect(answer.outputTokens).toBeGreaterThan(0);
    expect(answer.totalTokens).toBe(answer.inputTokens + answer.outputTokens);
  });

  test("asks for a tool with streamed arguments, then answers with the tool's result handed back", async ({ providers }) => {
    const agent = config({ provider });
    const tools = toolSpecs(agent.tools);
    const first = await providers.complete(modelRequest(agent, { message: "6 * 7" }, { tools }), signal());
    expect(first.text).toBe("");
    expect(first.toolCalls).toHaveLength(1);
    const [call] = first.toolCalls;
    expect(call?.name).toBe("calculator");
    expect(JSON.parse(call?.arguments ?? "")).toEqual({ expression: "6 * 7" });
    expect(call?.id).toMatch(CALL_ID[provider]);

    const rounds: ToolRound[] = [{ text: first.text, calls: first.toolCalls, results: [{ callId: call?.id ?? "", name: "calculator", content: "42", isError: false }] }];
    const second = await providers.complete(modelRequest(agent, { message: "6 * 7" }, { tools, rounds }), signal());
    expect(second).toMatchObject({ text: "echo: 6 * 7 (tool: 42)", toolCalls: [] });
  });

  // Gemini asks through RetryInfo in its error body, the others through retry-after.
  test("a 429 is retried after the delay the provider asks for", async ({ devModel, providers, modelCalls }) => {
    const agent = config({ provider, model: "galaxy-dev-echo", tools: [] });
    await devModel.control({ failNext: { count: 1, status: 429, retryAfterS: 1 } });
    const started = performance.now();
    const answer = await providers.complete(modelRequest(agent, { message: "patience" }), signal());
    // A lower bound only: the retry may not come sooner than the provider asked.
    expect(performance.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(answer.text).toBe("echo: patience");
    expect(await modelCalls()).toBe(2);
  });

  test("429 twice then an answer: three calls, one answer", async ({ devModel, providers, modelCalls }) => {
    const agent = config({ provider, model: "galaxy-dev-echo", tools: [] });
    await devModel.control({ failNext: { count: 2, status: 429 } });
    expect((await providers.complete(modelRequest(agent, { message: "again" }), signal())).text).toBe("echo: again");
    expect(await modelCalls()).toBe(3);
  });

  test("an abort ends the call while the model is still thinking, as an abort", async ({ devModel, providers, modelCalls }) => {
    const agent = config({ provider, model: "galaxy-dev-echo", tools: [] });
    await devModel.control({ latencyMs: 20_000 });
    const controller = new AbortController();
    const call = providers.complete(modelRequest(agent, { message: "slow" }), controller.signal).catch((caught: unknown) => caught);
    for (let i = 0; i < 200 && (await modelCalls()) === 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
    controller.abort(new Error("cancelled"));
    const error = await call;
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(ModelCallError);
    expect(await modelCalls()).toBe(1);
  });

  test("a refusal is not retried, and carries the provider's message", async ({ providers, modelCalls }) => {
    const agent = config({ provider, model: "galaxy-dev-nope", tools: [] });
    const error = await providers.complete(modelRequest(agent, { message: "x" }), signal()).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ModelCallError);
    expect(error).toMatchObject({ code: "provider_error", message: expect.stringContaining("galaxy-dev-nope") });
    expect(await modelCalls()).toBe(1);
  });
});

describe.each(PROVIDERS)("a workspace's own %s base URL", (provider) => {
  const ws = "0190a1b2-0000-7000-8000-000000000001";
  const own = (baseUrl: string) => ({ get: async () => ({ apiKey: "galaxy-dev-own", baseUrl }) });
  const base = (url: string) => (provider === "openai" ? `${url}/v1` : url);

  test("pointing at loopback (or any private address) is refused before anything is sent", async ({ devModel, modelCalls }) => {
    const guarded = new ModelProviders({ ...endpoints(devModel.url), maxRetries: 0, credentials: own(base(devModel.url)) });
    const agent = config({ provider, model: "galaxy-dev-echo", tools: [] });
    const error = await guarded.complete(modelRequest(agent, { message: "x" }), signal(), ws).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ModelCallError);
    expect(error).toMatchObject({ code: "provider_error", message: expect.stringContaining("base URL is not allowed") });
    expect(await modelCalls()).toBe(0);

    const metadata = new ModelProviders({ ...endpoints(devModel.url), maxRetries: 0, credentials: own("http://169.254.169.254/latest/") });
    const refused = await metadata.complete(modelRequest(agent, { message: "x" }), signal(), ws).catch((caught: unknown) => caught);
    expect(refused).toMatchObject({ code: "provider_error", message: expect.stringContaining("link-local") });
  });

  test("a host OUTBOUND_HOST_ALLOWLIST names is reached, streamed, through the checked address", async ({ devModel, modelCalls }) => {
    const allowed = new ModelProviders({
      ...endpoints(devModel.url),
      maxRetries: 0,
      credentials: own(base(devModel.url)),
      outboundPolicy: parseAllowlist("127.0.0.1"),
    });
    const pieces: string[] = [];
    const answer = await allowed.complete(modelRequest(config({ provider, model: "galaxy-dev-echo", tools: [] }), { message: "through the guard" }), signal(), ws, (delta) => pieces.push(delta));
    expect(answer.text).toBe("echo: through the guard");
    expect(pieces.length).toBeGreaterThan(1);
    expect(await modelCalls()).toBe(1);
  });
});

describe("Gemini's retry hint", () => {
  test("a RetryInfo longer than a minute is not waited out: the 429 stands after one call", async () => {
    let calls = 0;
    const server = createServer((_req, res) => {
      calls += 1;
      res.writeHead(429, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: 429, status: "RESOURCE_EXHAUSTED", message: "Quota exceeded", details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "120s" }] } }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const patient = new ModelProviders({ ...endpoints(url), maxRetries: 2 });
      const error = await patient.complete(modelRequest(config({ provider: "google", model: "gemini-2.5-flash", tools: [] }), { message: "x" }), signal()).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ModelCallError);
      expect(error).toMatchObject({ code: "provider_error", message: "429: Quota exceeded" });
      expect(calls).toBe(1);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe("a provider's error body", () => {
  test("is cut short in the execution's message, never echoed whole", async () => {
    const server = createServer((_req, res) => {
      res.writeHead(400, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: `secret internal page: ${"x".repeat(5_000)}`, type: "invalid_request_error" } }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const chatty = new ModelProviders({ ...endpoints(url), maxRetries: 0 });
      for (const provider of PROVIDERS) {
        const error = await chatty.complete(modelRequest(config({ provider, model: "m", tools: [] }), { message: "x" }), signal()).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(ModelCallError);
        const message = (error as ModelCallError).message;
        expect(message).toContain("secret internal page");
        expect(message.length).toBeLessThanOrEqual(MAX_PROVIDER_MESSAGE_CHARS);
      }
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
