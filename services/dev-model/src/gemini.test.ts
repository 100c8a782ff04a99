import { ApiError, FunctionCallingConfigMode, GoogleGenAI } from "@google/genai";
import { describe, expect } from "vitest";
import { embed } from "./embeddings";
import { countTokens } from "./tokens";
import { devModelTest as test } from "../test/fixtures";

test.beforeEach(async ({ server }) => server.control({ reset: true }));

const lookup = {
  name: "lookup",
  description: "Looks a word up",
  parametersJsonSchema: { type: "object", properties: { word: { type: "string" }, limit: { type: "number" } }, required: ["word"] },
};

describe("generateContent over the @google/genai client", () => {
  test("echoes the last user message with usageMetadata", async ({ gemini }) => {
    const response = await gemini.models.generateContent({
      model: "galaxy-dev-echo",
      contents: [{ role: "user", parts: [{ text: "Hello, Gemini!" }] }],
      config: { systemInstruction: "Be brief.", temperature: 0.2 },
    });
    expect(response.text).toBe("echo: Hello, Gemini!");
    expect(response.candidates?.[0]?.finishReason).toBe("STOP");
    expect(response.usageMetadata).toEqual({
      promptTokenCount: countTokens("Be brief.") + countTokens("Hello, Gemini!"),
      candidatesTokenCount: countTokens("echo: Hello, Gemini!"),
      totalTokenCount: countTokens("Be brief.") + countTokens("Hello, Gemini!") + countTokens("echo: Hello, Gemini!"),
    });
  });

  test("streams one chunk per token, the last with the finish reason and usage", async ({ gemini }) => {
    const chunks = [];
    for await (const chunk of await gemini.models.generateContentStream({ model: "galaxy-dev-echo", contents: "streaming works, right?" })) chunks.push(chunk);
    const text = chunks.map((chunk) => chunk.text ?? "").join("");
    expect(text).toBe("echo: streaming works, right?");
    expect(chunks).toHaveLength(countTokens(text));
    expect(chunks.at(-1)?.candidates?.[0]?.finishReason).toBe("STOP");
    expect(chunks.at(-1)?.usageMetadata?.candidatesTokenCount).toBe(countTokens(text));
    expect(chunks.slice(0, -1).every((chunk) => chunk.usageMetadata === undefined)).toBe(true);
  });

  test("stops at maxOutputTokens", async ({ gemini }) => {
    const response = await gemini.models.generateContent({ model: "galaxy-dev-echo", contents: "one two three four five", config: { maxOutputTokens: 3 } });
    expect(response.text).toBe("echo: one");
    expect(response.candidates?.[0]?.finishReason).toBe("MAX_TOKENS");
  });

  test("calls each declared function once, then answers with the last function's response", async ({ gemini }) => {
    const config = { tools: [{ functionDeclarations: [lookup] }] };
    const user = { role: "user", parts: [{ text: "zebra" }] };
    const first = await gemini.models.generateContent({ model: "galaxy-dev-tools", contents: [user], config });
    const call = first.functionCalls?.[0];
    expect(first.functionCalls).toHaveLength(1);
    expect(call).toMatchObject({ name: "lookup", args: { word: "zebra" } });
    expect(call?.id).toMatch(/^call_/);

    const again = await gemini.models.generateContent({ model: "galaxy-dev-tools", contents: [user], config });
    expect(again.functionCalls?.[0]?.id).toBe(call?.id);

    const second = await gemini.models.generateContent({
      model: "galaxy-dev-tools",
      contents: [user, { role: "model", parts: [{ functionCall: call }] }, { role: "user", parts: [{ functionResponse: { id: call?.id, name: "lookup", response: { output: "a striped horse" } } }] }],
      config,
    });
    expect(second.functionCalls).toBeUndefined();
    expect(second.text).toBe("echo: zebra (tool: a striped horse)");
  });

  test("streams a function call whole, in one chunk", async ({ gemini }) => {
    const chunks = [];
    const stream = await gemini.models.generateContentStream({ model: "galaxy-dev-tools", contents: "zebra", config: { tools: [{ functionDeclarations: [lookup] }] } });
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks).toHaveLength(1);
    expect(chunks[0]?.functionCalls).toEqual([expect.objectContaining({ name: "lookup", args: { word: "zebra" } })]);
    expect(chunks[0]?.usageMetadata?.promptTokenCount).toBeGreaterThan(0);
  });

  test("honours mode NONE and a single allowed function", async ({ gemini }) => {
    const tools = [{ functionDeclarations: [{ name: "first" }, lookup] }];
    const none = await gemini.models.generateContent({ model: "galaxy-dev-tools", contents: "zebra", config: { tools, toolConfig: { functionCallingConfig: { mode: FunctionCallingConfigMode.NONE } } } });
    expect(none.text).toBe("echo: zebra");
    const named = await gemini.models.generateContent({
      model: "galaxy-dev-tools",
      contents: "zebra",
      config: { tools, toolConfig: { functionCallingConfig: { mode: FunctionCallingConfigMode.ANY, allowedFunctionNames: ["lookup"] } } },
    });
    expect(named.functionCalls?.[0]?.name).toBe("lookup");
  });

  test("an unknown model is a 404 in Google's error shape", async ({ gemini }) => {
    const error = await gemini.models.generateContent({ model: "galaxy-dev-nope", contents: "x" }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(404);
    expect(JSON.parse((error as ApiError).message)).toMatchObject({ error: { code: 404, status: "NOT_FOUND", message: expect.stringContaining("galaxy-dev-nope") } });
  });
});

describe("failNext and requireApiKey on the Gemini routes", () => {
  test("a 429 carries its retry hint as RetryInfo, then the next call answers", async ({ server, gemini }) => {
    await server.control({ failNext: { count: 1, status: 429, retryAfterS: 7 } });
    const error = await gemini.models.generateContent({ model: "galaxy-dev-echo", contents: "x" }).catch((caught: unknown) => caught);
    expect((error as ApiError).status).toBe(429);
    expect(JSON.parse((error as ApiError).message)).toEqual({
      error: { code: 429, status: "RESOURCE_EXHAUSTED", message: expect.any(String), details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "7s" }] },
    });
    expect((await gemini.models.generateContent({ model: "galaxy-dev-echo", contents: "x" })).text).toBe("echo: x");
  });

  test("a 503 while streaming is UNAVAILABLE, with RetryInfo when a delay was set", async ({ server, gemini }) => {
    await server.control({ failNext: { count: 1, status: 503, retryAfterS: 2 } });
    const error = await gemini.models.generateContentStream({ model: "galaxy-dev-echo", contents: "x" }).catch((caught: unknown) => caught);
    expect(JSON.parse((error as ApiError).message)).toMatchObject({ error: { code: 503, status: "UNAVAILABLE", details: [{ retryDelay: "2s" }] } });
  });

  test("reads the key from x-goog-api-key", async ({ server, gemini }) => {
    await server.control({ requireApiKey: "dev-gemini-key" });
    expect((await gemini.models.generateContent({ model: "galaxy-dev-echo", contents: "x" })).text).toBe("echo: x");
    const wrong = new GoogleGenAI({ apiKey: "wrong-key-0000", vertexai: false, httpOptions: { baseUrl: server.url } });
    const error = await wrong.models.generateContent({ model: "galaxy-dev-echo", contents: "x" }).catch((caught: unknown) => caught);
    expect(JSON.parse((error as ApiError).message)).toMatchObject({ error: { code: 401, status: "UNAUTHENTICATED" } });
    expect((await server.app.inject({ method: "GET", url: "/_control" })).json()).toMatchObject({ lastApiKeyLast4: "0000" });
  });
});

describe("embeddings over the @google/genai client", () => {
  test("batchEmbedContents answers one deterministic vector per text, in order", async ({ gemini }) => {
    const texts = ["The cat sat on the mat.", "Stock prices fell sharply on Tuesday."];
    const response = await gemini.models.embedContent({ model: "galaxy-dev-embed", contents: texts });
    expect(response.embeddings?.map((one) => one.values)).toEqual(texts.map((text) => embed(text)));
  });

  test("honours outputDimensionality, and gemini-embedding-001 is 3072-dimensional by default", async ({ gemini }) => {
    const small = await gemini.models.embedContent({ model: "galaxy-dev-embed", contents: ["agents"], config: { outputDimensionality: 64 } });
    expect(small.embeddings?.[0]?.values).toHaveLength(64);
    const own = await gemini.models.embedContent({ model: "gemini-embedding-001", contents: ["agents"] });
    expect(own.embeddings?.[0]?.values).toHaveLength(3072);
  });

  test("lists the models, and gets one", async ({ gemini }) => {
    const names: string[] = [];
    for await (const model of await gemini.models.list()) names.push(model.name ?? "");
    expect(names).toEqual(["models/galaxy-dev-echo", "models/galaxy-dev-tools", "models/galaxy-dev-embed", "models/text-embedding-3-small", "models/gemini-embedding-001"]);
    expect(await gemini.models.get({ model: "galaxy-dev-echo" })).toMatchObject({ name: "models/galaxy-dev-echo", supportedActions: ["generateContent", "streamGenerateContent"] });
  });

  test("a chat model is no embedding model", async ({ gemini }) => {
    const error = await gemini.models.embedContent({ model: "galaxy-dev-echo", contents: ["x"] }).catch((caught: unknown) => caught);
    expect((error as ApiError).status).toBe(404);
  });
});
