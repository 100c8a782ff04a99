import { createServer, type Server } from "node:http";
import { listenOnLoopback } from "@galaxy/testkit/loopback";
import { describe, expect, test as base } from "vitest";
import type { AgentConfig } from "@galaxy/contracts";
import { ModelCallError } from "../../errors";
import { modelRequest } from "../messages";
import { ModelProviders } from "../providers";

/**
 * What Gemini sends that the dev model server does not: thinking (billed tokens, a signed
 * function call whose signature must come back), and an answer blocked for safety. A stand-in
 * server streams those frames to the real `@google/genai` client and records what it was sent.
 */

/** The stand-in: where it listens, what it was sent and what it streams next. */
interface GeminiStandIn {
  url: string;
  /** The bodies the stand-in received, in order. */
  bodies: unknown[];
  /** The SSE responses the next calls get, one list of chunks per call. */
  script: unknown[][];
}

/**
 * Each set up once per file:
 * - `gemini`: the stand-in server, closed after the file's last test;
 * - `providers`: the worker's model providers, Google's pointed at `gemini`.
 */
const test = base
  .extend("gemini", { scope: "file" }, async ({}, { onCleanup }): Promise<GeminiStandIn> => {
    const gemini: GeminiStandIn = { url: "", bodies: [], script: [] };
    const server: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        gemini.bodies.push(JSON.parse(Buffer.concat(chunks).toString("utf8")));
        res.writeHead(200, { "content-type": "text/event-stream" });
        for (const frame of gemini.script.shift() ?? []) res.write(`data: ${JSON.stringify(frame)}\n\n`);
        res.end();
      });
    });
    const listening = await listenOnLoopback(server);
    onCleanup(listening.close);
    gemini.url = `http://127.0.0.1:${listening.port}`;
    return gemini;
  })
  .extend("providers", { scope: "file" }, async ({ gemini }) =>
    new ModelProviders({ openaiApiKey: "k", openaiBaseUrl: `${gemini.url}/v1`, googleApiKey: "AIza-test", googleBaseUrl: gemini.url, maxRetries: 0 }));

const agent: AgentConfig = {
  name: "Thinker", description: null, provider: "google", model: "gemini-2.5-flash", systemPrompt: "Think, then use the calculator.", temperature: 0.3, maxTokens: 500,
  tools: [{ type: "builtin", name: "calculator" }], knowledgeBaseIds: [], inputSchema: null, outputSchema: null, timeoutMs: null, notifyUrl: null,
};
const tools = [{ name: "calculator", description: "Computes", parameters: { type: "object", properties: { expression: { type: "string" } }, required: ["expression"] } }];
const signal = () => new AbortController().signal;

describe("a Gemini thinking model", () => {
  test("its thoughts are no answer text but are billed as output, and its signed call's signature goes back with the call", async ({ gemini, providers }) => {
    gemini.script.push([
      { candidates: [{ content: { role: "model", parts: [{ text: "Let me think about 6 * 7.", thought: true }] } }] },
      {
        candidates: [{ content: { role: "model", parts: [{ functionCall: { name: "calculator", args: { expression: "6 * 7" } }, thoughtSignature: "c2lnbmVkLXRob3VnaHQ=" }] }, finishReason: "STOP" }],
        usageMetadata: { promptTokenCount: 20, candidatesTokenCount: 5, thoughtsTokenCount: 30, totalTokenCount: 55 },
      },
    ]);
    const first = await providers.complete(modelRequest(agent, { message: "6 * 7" }, { tools }), signal());
    expect(first.text).toBe("");
    expect(first).toMatchObject({ inputTokens: 20, outputTokens: 35, totalTokens: 55 });
    const [call] = first.toolCalls;
    expect(call).toMatchObject({ name: "calculator", arguments: JSON.stringify({ expression: "6 * 7" }) });
    expect(gemini.bodies.at(-1)).toMatchObject({
      systemInstruction: { parts: [{ text: "Think, then use the calculator." }] },
      generationConfig: { temperature: 0.3, maxOutputTokens: 500 },
      tools: [{ functionDeclarations: [{ name: "calculator", parametersJsonSchema: tools[0]?.parameters }] }],
    });

    gemini.script.push([{ candidates: [{ content: { role: "model", parts: [{ text: "It is 42." }] }, finishReason: "STOP" }], usageMetadata: { promptTokenCount: 40, candidatesTokenCount: 4 } }]);
    const rounds = [{ text: "", calls: first.toolCalls, results: [{ callId: call?.id ?? "", name: "calculator", content: "42", isError: false }] }];
    const deltas: string[] = [];
    const second = await providers.complete(modelRequest(agent, { message: "6 * 7" }, { tools, rounds }), signal(), undefined, (delta) => deltas.push(delta));
    expect(second).toMatchObject({ text: "It is 42.", toolCalls: [], inputTokens: 40, outputTokens: 4 });
    expect(deltas).toEqual(["It is 42."]);
    expect(gemini.bodies.at(-1)).toMatchObject({
      contents: [
        { role: "user", parts: [{ text: "6 * 7" }] },
        { role: "model", parts: [{ functionCall: { id: call?.id, name: "calculator", args: { expression: "6 * 7" } }, thoughtSignature: "c2lnbmVkLXRob3VnaHQ=" }] },
        { role: "user", parts: [{ functionResponse: { id: call?.id, name: "calculator", response: { output: "42" } } }] },
      ],
    });
  });

  test("an answer blocked for safety, with no text and no call, fails with provider_error naming the reason", async ({ gemini, providers }) => {
    gemini.script.push([{ candidates: [{ content: { role: "model", parts: [] }, finishReason: "SAFETY" }], usageMetadata: { promptTokenCount: 9, candidatesTokenCount: 0 } }]);
    const error = await providers.complete(modelRequest({ ...agent, tools: [] }, { message: "something unsafe" }), signal()).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ModelCallError);
    expect(error).toMatchObject({ code: "provider_error", message: expect.stringContaining("SAFETY") });
  });

  test("a stream that is not Gemini's shape is a provider_error", async ({ gemini, providers }) => {
    gemini.script.push([{ candidates: [{ content: { parts: [{ functionCall: { name: "" } }] } }] }]);
    const error = await providers.complete(modelRequest(agent, { message: "x" }, { tools }), signal()).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "provider_error", message: "The provider's stream was malformed" });
  });
});
