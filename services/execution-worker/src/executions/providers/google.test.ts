import { describe, expect, test } from "vitest";
import type { AgentConfig } from "@galaxy/contracts";
import { modelRequest } from "../messages";
import { geminiContents, ThoughtSignatures } from "./google";

const agent: AgentConfig = {
  name: "Test", description: null, provider: "google", model: "gemini-2.5-flash", systemPrompt: "You help.", temperature: null, maxTokens: null,
  tools: [], knowledgeBaseIds: [], inputSchema: null, outputSchema: null, timeoutMs: null, notifyUrl: null,
};

describe("the conversation in Gemini's terms", () => {
  test("the user, then per round the model's function calls and a user turn of their responses, errors as `error`", () => {
    const rounds = [
      {
        text: "Let me look.",
        calls: [{ id: "call_1", name: "calculator", arguments: '{"expression":"6 * 7"}' }, { id: "call_2", name: "lookup", arguments: "not json" }],
        results: [
          { callId: "call_1", name: "calculator", content: "42", isError: false },
          { callId: "call_2", name: "lookup", content: "error: no such word", isError: true },
        ],
      },
    ];
    expect(geminiContents(modelRequest(agent, { message: "6 * 7" }, { rounds }))).toEqual([
      { role: "user", parts: [{ text: "6 * 7" }] },
      {
        role: "model",
        parts: [{ text: "Let me look." }, { functionCall: { id: "call_1", name: "calculator", args: { expression: "6 * 7" } } }, { functionCall: { id: "call_2", name: "lookup", args: {} } }],
      },
      {
        role: "user",
        parts: [
          { functionResponse: { id: "call_1", name: "calculator", response: { output: "42" } } },
          { functionResponse: { id: "call_2", name: "lookup", response: { error: "error: no such word" } } },
        ],
      },
    ]);
  });

  test("a call's thought signature goes back with it in the next round", () => {
    const signatures = new ThoughtSignatures();
    signatures.keep("call_1", "c2lnbmVk");
    const rounds = [{ text: "", calls: [{ id: "call_1", name: "calculator", arguments: "{}" }], results: [{ callId: "call_1", name: "calculator", content: "1", isError: false }] }];
    const [, model] = geminiContents(modelRequest(agent, { message: "x" }, { rounds }), signatures);
    expect(model?.parts).toEqual([{ functionCall: { id: "call_1", name: "calculator", args: {} }, thoughtSignature: "c2lnbmVk" }]);
  });

  test("the signatures kept are bounded: past the bound they start over", () => {
    const signatures = new ThoughtSignatures(2);
    signatures.keep("a", "1");
    signatures.keep("b", "2");
    signatures.keep("c", "3");
    expect([signatures.of("a"), signatures.of("b"), signatures.of("c")]).toEqual([undefined, undefined, "3"]);
  });
});
