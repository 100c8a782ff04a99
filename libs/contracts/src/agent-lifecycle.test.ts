import { describe, expect, test } from "vitest";
import { AgentConfig, CreateAgentBody, agentConfigFromBody } from "./agents";
import { UpdateAgentBody, applyAgentUpdate } from "./agent-lifecycle";

const created = agentConfigFromBody(CreateAgentBody.parse({ name: "Helper", provider: "openai", model: "gpt-4o-mini", systemPrompt: "Help." }));
const tool = (url: string) => ({ type: "webhook", name: "lookup", description: "Looks up", parameters: { type: "object" }, url });

describe("URLs Galaxy calls out to", () => {
  test("a notifyUrl or webhook tool url with a user name or password is refused, on create and update", () => {
    for (const url of ["https://user:pass@hooks.example.com/x", "https://user@hooks.example.com/x", "http://:secret@hooks.example.com/"]) {
      expect(CreateAgentBody.safeParse({ name: "a", provider: "openai", model: "m", systemPrompt: "", notifyUrl: url }).success, url).toBe(false);
      expect(UpdateAgentBody.safeParse({ notifyUrl: url }).success, url).toBe(false);
      expect(UpdateAgentBody.safeParse({ tools: [tool(url)] }).success, url).toBe(false);
    }
    expect(UpdateAgentBody.safeParse({ notifyUrl: "https://hooks.example.com/x", tools: [tool("https://tools.example.com/lookup")] }).success).toBe(true);
  });
});

describe("UpdateAgentBody", () => {
  test("has the config's own constraints: every part optional, null clearing an optional one", () => {
    expect(Object.keys(UpdateAgentBody.shape).sort()).toEqual(Object.keys(AgentConfig.shape).sort());
    expect(UpdateAgentBody.safeParse({ maxTokens: 200_001 }).success).toBe(false);
    expect(UpdateAgentBody.safeParse({ temperature: 2.5 }).success).toBe(false);
    expect(UpdateAgentBody.safeParse({ name: "   " }).success).toBe(false);
    expect(UpdateAgentBody.safeParse({ maxTokens: null, description: null }).success).toBe(true);
    expect(UpdateAgentBody.safeParse({ name: null }).success).toBe(false);
    expect(UpdateAgentBody.safeParse({ unknown: 1 }).success).toBe(false);
  });

  test("applyAgentUpdate replaces exactly the named parts, null included", () => {
    const withLimits = { ...created, maxTokens: 100, description: "old" };
    const next = applyAgentUpdate(withLimits, UpdateAgentBody.parse({ maxTokens: null, model: "gpt-4o", timeoutMs: 5_000 }));
    expect(next).toEqual({ ...withLimits, maxTokens: null, model: "gpt-4o", timeoutMs: 5_000 });
    expect(applyAgentUpdate(withLimits, {})).toEqual(withLimits);
  });
});
