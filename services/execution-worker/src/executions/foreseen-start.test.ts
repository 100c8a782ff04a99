import { describe, expect, test } from "vitest";
import type { AgentConfig } from "@galaxy/contracts";
import type { PinnableAgent } from "../agents/agents.repository";
import { Foresights } from "./foreseen-start";
import type { WorkspaceFacts } from "./workspace-facts";

/** The foresights the batch intake plans lone deliveries from (docs/decisions/0033): what it keeps, and how much. */

const config = (systemPrompt: string): AgentConfig => ({
  name: "Echo", description: null, provider: "openai", model: "galaxy-dev-echo", systemPrompt,
  temperature: null, maxTokens: null, tools: [], knowledgeBaseIds: [], inputSchema: null, outputSchema: null, timeoutMs: null, notifyUrl: null,
});

const agent = (overrides: Partial<PinnableAgent> = {}): PinnableAgent => ({ status: "active", deleted: false, version: 1, config: config("Repeat."), ...overrides });

const facts = (agents: Record<string, PinnableAgent>): WorkspaceFacts => ({
  tier: "pro", storedTier: "pro", tokensUsed: 10, queued: 0, running: 0, existing: new Set(["a-started-id"]), agents: new Map(Object.entries(agents)),
});

describe("Foresights", () => {
  test("keeps each startable agent of a read with the workspace's tier and tokens, not the ids it found", () => {
    const kept = new Foresights();
    kept.learn("ws", facts({ a1: agent(), paused: agent({ status: "paused" }), deleted: agent({ deleted: true }), unseen: agent({ config: null }) }));
    expect(kept.get("ws", "a1")).toEqual({ tier: "pro", storedTier: "pro", tokensUsed: 10, agent: agent() });
    expect([kept.get("ws", "paused"), kept.get("ws", "deleted"), kept.get("ws", "unseen"), kept.get("other", "a1")]).toEqual([undefined, undefined, undefined, undefined]);
  });

  test("a later read replaces the earlier one, and forgets an agent no longer startable", () => {
    const kept = new Foresights();
    kept.learn("ws", facts({ a1: agent() }));
    kept.learn("ws", facts({ a1: agent({ version: 2 }) }));
    expect(kept.get("ws", "a1")?.agent.version).toBe(2);
    kept.learn("ws", facts({ a1: agent({ status: "paused" }) }));
    expect(kept.get("ws", "a1")).toBeUndefined();
    expect(kept.size).toBe(0);
  });

  test("holds at most its bytes of configs, forgetting the least recently read first, and never one too large", () => {
    const prompt = "x".repeat(1_000);
    const bytes = JSON.stringify(config(prompt)).length;
    const kept = new Foresights(3 * bytes);
    for (const ws of ["w1", "w2", "w3", "w4"]) kept.learn(ws, facts({ a: agent({ config: config(prompt) }) }));
    expect(["w1", "w2", "w3", "w4"].map((ws) => kept.get(ws, "a") !== undefined)).toEqual([false, true, true, true]);
    expect(kept.size).toBe(3 * bytes);
    kept.learn("w2", facts({ a: agent({ config: config(prompt) }) }));
    kept.learn("w5", facts({ a: agent({ config: config(prompt) }) }));
    expect(["w2", "w3", "w4", "w5"].map((ws) => kept.get(ws, "a") !== undefined)).toEqual([true, false, true, true]);
    kept.learn("w6", facts({ a: agent({ config: config("y".repeat(100_000)) }) }));
    expect(kept.get("w6", "a")).toBeUndefined();
    expect(kept.size).toBe(3 * bytes);
  });
});
