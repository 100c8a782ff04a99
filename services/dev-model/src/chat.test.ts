import { describe, expect, it } from "vitest";
import { type Conversation, replyTo } from "./chat";

const base: Conversation = {
  model: "galaxy-dev-echo",
  texts: ["You are terse.", "Hello, world!"],
  lastUserText: "Hello, world!",
  toolResults: [],
  tools: [],
  toolChoice: { kind: "auto" },
  maxTokens: null,
};
const calculator = { name: "calculator", parameters: { type: "object", properties: { expression: { type: "string" } }, required: ["expression"] } };

describe("dev model replies", () => {
  it("echo answers the last user text and counts tokens over every message", () => {
    expect(replyTo(base)).toEqual({
      kind: "text",
      text: "echo: Hello, world!",
      truncated: false,
      usage: { promptTokens: 8, completionTokens: 6 },
    });
  });

  it("echo ignores offered tools", () => {
    expect(replyTo({ ...base, tools: [calculator] }).kind).toBe("text");
  });

  it("echo stops at maxTokens and says it was cut", () => {
    expect(replyTo({ ...base, maxTokens: 2 })).toMatchObject({ kind: "text", text: "echo:", truncated: true, usage: { completionTokens: 2 } });
  });

  it("tools calls the first tool, with the user's message as its string arguments, while no tool result is in the conversation", () => {
    const answer = replyTo({ ...base, model: "galaxy-dev-tools", tools: [calculator, { name: "other", parameters: {} }] });
    expect(answer).toMatchObject({ kind: "tool_call", name: "calculator", arguments: { expression: "Hello, world!" } });
    expect(replyTo({ ...base, model: "galaxy-dev-tools", tools: [calculator] })).toEqual(replyTo({ ...base, model: "galaxy-dev-tools", tools: [calculator] }));
  });

  it("tools honours a named or 'none' tool choice", () => {
    const tools = [calculator, { name: "other", parameters: {} }];
    expect(replyTo({ ...base, model: "galaxy-dev-tools", tools, toolChoice: { kind: "named", name: "other" } })).toMatchObject({ kind: "tool_call", name: "other", arguments: {} });
    expect(replyTo({ ...base, model: "galaxy-dev-tools", tools, toolChoice: { kind: "none" } }).kind).toBe("text");
  });

  it("tools calls each offered tool once, in order, one per answer", () => {
    const tools = [calculator, { name: "other", parameters: {} }];
    expect(replyTo({ ...base, model: "galaxy-dev-tools", tools, toolResults: ["14"] })).toMatchObject({ kind: "tool_call", name: "other", arguments: {} });
    expect(replyTo({ ...base, model: "galaxy-dev-tools", tools, toolResults: ["14", "done"] })).toMatchObject({ kind: "text", text: "echo: Hello, world! (tool: done)" });
    // A named tool is called once.
    expect(replyTo({ ...base, model: "galaxy-dev-tools", tools, toolChoice: { kind: "named", name: "other" }, toolResults: ["x"] }).kind).toBe("text");
  });

  it("tools echoes with the last tool result once every tool was called", () => {
    const answer = replyTo({ ...base, model: "galaxy-dev-tools", tools: [calculator], toolResults: ["1", "2"] });
    expect(answer).toMatchObject({ kind: "text", text: "echo: Hello, world! (tool: 2)" });
  });

  it("tools without tools offered just echoes", () => {
    expect(replyTo({ ...base, model: "galaxy-dev-tools" })).toMatchObject({ kind: "text", text: "echo: Hello, world!" });
  });
});
