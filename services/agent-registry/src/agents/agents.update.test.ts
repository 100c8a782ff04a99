import { describe, expect, test } from "vitest";
import { applyAgentUpdate, type AgentConfig } from "@galaxy/contracts";
import { newNotifySecret, sameJson } from "./agents.service";

const config: AgentConfig = {
  name: "Bot",
  description: "Helps",
  provider: "openai",
  model: "galaxy-dev-echo",
  systemPrompt: "Be brief.",
  temperature: 0.5,
  maxTokens: null,
  tools: [],
  knowledgeBaseIds: [],
  inputSchema: { type: "object", properties: { message: { type: "string" } } },
  outputSchema: null,
  timeoutMs: null,
  notifyUrl: null,
};

describe("applyAgentUpdate", () => {
  test("replaces the fields the body names, clears those set to null, keeps the rest", () => {
    expect(applyAgentUpdate(config, { systemPrompt: "Be long.", temperature: null, notifyUrl: "https://hooks.example.com/x" })).toEqual({
      ...config,
      systemPrompt: "Be long.",
      temperature: null,
      notifyUrl: "https://hooks.example.com/x",
    });
    expect(applyAgentUpdate(config, {})).toEqual(config);
  });
});

describe("sameJson", () => {
  test("ignores the order of object keys (jsonb does not keep it), not the order of arrays", () => {
    expect(sameJson({ a: 1, b: { c: [1, 2], d: null } }, { b: { d: null, c: [1, 2] }, a: 1 })).toBe(true);
    expect(sameJson({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
    expect(sameJson({ a: null }, {})).toBe(false);
    expect(sameJson(config, applyAgentUpdate(config, { inputSchema: { properties: { message: { type: "string" } }, type: "object" } }))).toBe(true);
  });
});

test("a callback secret is whsec_ and 32 random bytes, base64, new each time", () => {
  const secret = newNotifySecret();
  expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
  expect(Buffer.from(secret.slice(6), "base64")).toHaveLength(32);
  expect(newNotifySecret()).not.toBe(secret);
});
