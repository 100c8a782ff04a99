import { describe, expect, test } from "vitest";
import { AgentConfig, type Principal } from "@galaxy/contracts";
import type { PinnableAgent } from "../agents/agents.repository";
import { decideStart } from "./start-decision";

const config = AgentConfig.parse({
  name: "Echo", description: null, provider: "openai", model: "galaxy-dev-echo", systemPrompt: "", temperature: null, maxTokens: null,
  tools: [], knowledgeBaseIds: [], inputSchema: null, outputSchema: null, timeoutMs: null, notifyUrl: null,
});
const active: PinnableAgent = { status: "active", deleted: false, version: 3, config };
const member: Principal = { role: "member", id: "u1" };
const viewer: Principal = { role: "viewer", id: "u2" };
const id = "0190a1b2-0000-7000-8000-0000000000bb";

describe("deciding a start", () => {
  test("an active agent with its config is pinned at its current version", () => {
    expect(decideStart(id, active, member, false)).toEqual({ kind: "enqueue", version: 3, config });
  });

  test("what the projection lacks or sees inactive is asked of the registry", () => {
    expect(decideStart(id, null, member, false)).toEqual({ kind: "ask_registry" });
    expect(decideStart(id, { ...active, status: "draft" }, member, false)).toEqual({ kind: "ask_registry" });
    expect(decideStart(id, { ...active, config: null }, member, false)).toEqual({ kind: "ask_registry" });
  });

  test("the registry's word refuses: missing is 404, inactive is 409", () => {
    expect(decideStart(id, null, member, true)).toMatchObject({ kind: "reject", error: { status: 404, code: "agent_not_found" } });
    expect(decideStart(id, { ...active, deleted: true }, member, true)).toMatchObject({ kind: "reject", error: { status: 404 } });
    expect(decideStart(id, { ...active, status: "paused" }, member, true)).toMatchObject({ kind: "reject", error: { status: 409, code: "agent_not_active" } });
  });

  test("a viewer is refused (403) once the agent is known, never before", () => {
    expect(decideStart(id, active, viewer, false)).toMatchObject({ kind: "reject", error: { status: 403 } });
    expect(decideStart(id, null, viewer, false)).toEqual({ kind: "ask_registry" });
    expect(decideStart(id, null, viewer, true)).toMatchObject({ kind: "reject", error: { status: 404 } });
  });
});
