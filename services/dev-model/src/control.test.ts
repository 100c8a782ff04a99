import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { describe, expect } from "vitest";
import { devModelTest } from "../test/fixtures";

/** The dev model's fixtures, and `echo`: a chat completion of "hi" from galaxy-dev-echo over the openai client. */
const test = devModelTest.extend("echo", { scope: "file" }, async ({ openai }) => () =>
  openai.chat.completions.create({ model: "galaxy-dev-echo", messages: [{ role: "user", content: "hi" }] }));
test.beforeEach(async ({ server }) => server.control({ reset: true }));

describe("fault switches", () => {
  test("fails the next N calls with 429 and retry-after: 0, then recovers", async ({ server, openai, echo }) => {
    await server.control({ failNext: { count: 2, status: 429 } });
    const first = await echo().catch((e: unknown) => e);
    expect(first).toBeInstanceOf(OpenAI.RateLimitError);
    if (first instanceof OpenAI.RateLimitError) {
      expect(first.status).toBe(429);
      expect(first.headers.get("retry-after")).toBe("0");
      expect(first.code).toBe("rate_limit_exceeded");
    }
    const second = await openai.embeddings.create({ model: "galaxy-dev-embed", input: "x" }).catch((e: unknown) => e);
    expect(second).toBeInstanceOf(OpenAI.RateLimitError);
    await expect(echo()).resolves.toMatchObject({ object: "chat.completion" });
  });

  test("fails with 500 and 503 as server errors", async ({ server, echo }) => {
    await server.control({ failNext: { count: 1, status: 500 } });
    await expect(echo()).rejects.toMatchObject({ status: 500, error: { type: "server_error" } });
    await server.control({ failNext: { count: 1, status: 503 } });
    await expect(echo()).rejects.toBeInstanceOf(OpenAI.InternalServerError);
  });

  test("lets a retrying client succeed once the failures are used up", async ({ server }) => {
    await server.control({ failNext: { count: 2, status: 429 } });
    const retrying = new OpenAI({ apiKey: "dev", baseURL: `${server.url}/v1`, maxRetries: 2 });
    const completion = await retrying.chat.completions.create({ model: "galaxy-dev-echo", messages: [{ role: "user", content: "hi" }] });
    expect(completion.choices[0]?.message.content).toBe("echo: hi");
  });

  test("sends the retry-after the switch asks for, and counts every call that arrived", async ({ server, echo }) => {
    await server.control({ failNext: { count: 1, status: 429, retryAfterS: 7 } });
    const error = await echo().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    if (error instanceof OpenAI.RateLimitError) expect(error.headers.get("retry-after")).toBe("7");
    await server.control({ failNext: { count: 1, status: 503, retryAfterS: 2 } });
    const unavailable = await echo().catch((e: unknown) => e);
    if (unavailable instanceof OpenAI.APIError) expect(unavailable.headers?.get("retry-after")).toBe("2");
    await echo();
    const settings: unknown = await (await fetch(`${server.url}/_control`)).json();
    expect(settings).toMatchObject({ modelCalls: 3, failNext: null });
  });

  test("fails Anthropic calls in Anthropic's shape", async ({ server, anthropic }) => {
    await server.control({ failNext: { count: 1, status: 429 } });
    const error = await anthropic.messages
      .create({ model: "galaxy-dev-echo", max_tokens: 10, messages: [{ role: "user", content: "hi" }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    if (error instanceof Anthropic.RateLimitError) expect(error.error).toMatchObject({ type: "error", error: { type: "rate_limit_error" } });
  });

  test("adds latency to model calls", async ({ server, echo }) => {
    await server.control({ latencyMs: 150 });
    const started = performance.now();
    await echo();
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });

  test("reports and resets its settings", async ({ server }) => {
    const get = async () => (await fetch(`${server.url}/_control`)).json();
    const idle = { latencyMs: 0, failNext: null, apiKeyRequired: false, lastApiKeyLast4: null, modelCalls: 0 };
    expect(await get()).toEqual(idle);
    await server.control({ latencyMs: 5, failNext: { count: 3, status: 503 } });
    expect(await get()).toEqual({ ...idle, latencyMs: 5, failNext: { count: 3, status: 503, retryAfterS: 0 } });
    await server.control({ reset: true });
    expect(await get()).toEqual(idle);
  });

  test("requires an API key when asked: a wrong or missing key is a 401 in each provider's shape", async ({ server, anthropic, echo }) => {
    await server.control({ requireApiKey: "sk-required-0001" });
    const wrong = await echo().catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(wrong).toMatchObject({ status: 401, code: "invalid_api_key" });
    const settings = async () => (await fetch(`${server.url}/_control`)).json();
    expect(await settings()).toMatchObject({ apiKeyRequired: true, lastApiKeyLast4: "dev" });
    const anthropicError = await anthropic.messages.create({ model: "galaxy-dev-echo", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    expect(anthropicError).toBeInstanceOf(Anthropic.AuthenticationError);

    const keyed = new OpenAI({ apiKey: "sk-required-0001", baseURL: `${server.url}/v1`, maxRetries: 0 });
    await expect(keyed.chat.completions.create({ model: "galaxy-dev-echo", messages: [{ role: "user", content: "hi" }] })).resolves.toMatchObject({ object: "chat.completion" });
    const keyedAnthropic = new Anthropic({ apiKey: "sk-required-0001", baseURL: server.url, maxRetries: 0 });
    await expect(keyedAnthropic.messages.create({ model: "galaxy-dev-echo", max_tokens: 10, messages: [{ role: "user", content: "hi" }] })).resolves.toMatchObject({ type: "message" });
    expect(await settings()).toMatchObject({ apiKeyRequired: true, lastApiKeyLast4: "0001" });
    expect(JSON.stringify(await settings())).not.toContain("sk-required");

    await server.control({ requireApiKey: null });
    await expect(echo()).resolves.toMatchObject({ object: "chat.completion" });
  });

  test("rejects a bad control body", async ({ server }) => {
    const response = await fetch(`${server.url}/_control`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ failNext: { count: 1, status: 418 } }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { type: "invalid_request_error", param: "failNext.status" } });
  });
});
