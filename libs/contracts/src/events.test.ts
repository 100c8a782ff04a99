import { randomUUID } from "node:crypto";
import { describe, expect, test } from "vitest";
import type { Agent } from "./agents";
import { EVENT_CATALOG, EVENT_TYPES, eventSubject, isEventType, parseEvent, parseEventSubject } from "./events";
import { SYSTEM_WORKSPACE_ID } from "./ids";

const ws = randomUUID();

function agent(overrides: Partial<Agent> = {}): Agent {
  return {
    id: randomUUID(),
    workspaceId: ws,
    status: "draft",
    version: 1,
    createdBy: randomUUID(),
    createdAt: "2026-11-26T10:00:00.000Z",
    updatedAt: "2026-11-26T10:00:00.000Z",
    name: "Summarizer",
    description: null,
    provider: "openai",
    model: "galaxy-dev-echo",
    systemPrompt: "Summarize.",
    temperature: null,
    maxTokens: null,
    tools: [{ type: "builtin", name: "calculator" }],
    knowledgeBaseIds: [],
    inputSchema: null,
    outputSchema: null,
    timeoutMs: null,
    notifyUrl: null,
    ...overrides,
  };
}

function agentCreated(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: randomUUID(),
    type: "agent.created",
    occurredAt: "2026-11-26T10:00:00.000Z",
    workspaceId: ws,
    actor: { type: "user", id: randomUUID() },
    data: { agent: agent() },
    ...overrides,
  };
}

describe("parseEvent", () => {
  test("accepts a valid agent.created and types its data", () => {
    const value = agentCreated();
    const result = parseEvent(value);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.event.type).toBe("agent.created");
    if (result.event.type !== "agent.created") return;
    expect(result.event.data.agent.name).toBe("Summarizer");
    expect(result.event).toEqual(value);
  });

  test("accepts an event of the system workspace", () => {
    const result = parseEvent(agentCreated({ workspaceId: SYSTEM_WORKSPACE_ID, data: { agent: agent({ workspaceId: SYSTEM_WORKSPACE_ID }) } }));
    expect(result.ok).toBe(true);
  });

  test("rejects an unknown event type", () => {
    const result = parseEvent(agentCreated({ type: "agent.exploded" }));
    expect(result).toEqual({ ok: false, error: "unknown event type agent.exploded" });
  });

  test("does not take inherited object keys for event types", () => {
    expect(isEventType("constructor")).toBe(false);
    expect(parseEvent(agentCreated({ type: "to_string.value_of" })).ok).toBe(false);
  });

  test("rejects data that does not match the type's schema, naming the field", () => {
    const result = parseEvent(agentCreated({ data: { agent: { ...agent(), temperature: 7 } } }));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toMatch(/^bad agent\.created data/);
    expect(result.error).toContain("agent.temperature");
  });

  test("rejects data of another event type", () => {
    const result = parseEvent(agentCreated({ data: { agentId: randomUUID(), version: 1, status: "active", before: "draft" } }));
    expect(result.ok).toBe(false);
  });

  test.each([
    ["a missing id", { id: undefined }],
    ["an id that is not a UUID", { id: "evt-1" }],
    ["a time without offset", { occurredAt: "2026-11-26 10:00" }],
    ["a workspace id that is not one", { workspaceId: "acme" }],
    ["an unknown actor type", { actor: { type: "robot", id: "r" } }],
    ["an actor without id", { actor: { type: "user", id: "" } }],
    ["a type that is not dotted", { type: "created" }],
  ])("rejects an envelope with %s", (_name, overrides) => {
    const result = parseEvent(agentCreated(overrides));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toMatch(/^bad envelope/);
  });

  test.each([null, "agent.created", 42, []])("rejects %j as an envelope", (value) => {
    expect(parseEvent(value).ok).toBe(false);
  });
});

describe("event subjects", () => {
  test("eventSubject puts the workspace before the type", () => {
    expect(eventSubject(ws, "agent.created")).toBe(`evt.${ws}.agent.created`);
  });

  test.each(EVENT_TYPES)("parseEventSubject reads back what eventSubject wrote for %s", (type) => {
    expect(parseEventSubject(eventSubject(ws, type))).toEqual({ workspaceId: ws, type });
  });

  test("parseEventSubject reads the system workspace", () => {
    expect(parseEventSubject(`evt.${SYSTEM_WORKSPACE_ID}.replay.started`)).toEqual({ workspaceId: SYSTEM_WORKSPACE_ID, type: "replay.started" });
  });

  test.each([
    ["another kind of subject", `svc.${ws}.agent.created`],
    ["a workspace that is not an id", "evt.acme.agent.created"],
    ["no verb", `evt.${ws}.agent`],
    ["no type", `evt.${ws}`],
    ["an empty workspace", "evt..agent.created"],
    ["only the prefix", "evt"],
    ["an empty subject", ""],
    ["a prefixed subject", `t123.evt.${ws}.agent.created`],
  ])("parseEventSubject refuses %s", (_name, subject) => {
    expect(parseEventSubject(subject)).toBeNull();
  });
});

test("every catalog entry has a schema version and names its resource", () => {
  const sample = parseEvent(agentCreated());
  if (!sample.ok || sample.event.type !== "agent.created") throw new Error("sample event should parse");
  expect(EVENT_CATALOG["agent.created"].resource(sample.event.data)).toEqual({ type: "agent", id: sample.event.data.agent.id });
  for (const type of EVENT_TYPES) expect(EVENT_CATALOG[type].schemaVersion).toBeGreaterThanOrEqual(1);
});
