import { describe, expect, test } from "vitest";
import { REDACTED, type Agent, type TypedEvent } from "@galaxy/contracts";
import { canonicalJson } from "../chain/canonical-json";
import { GENESIS_HEAD, appendToChain, verifyChain } from "../chain/chain";
import { UnauditableEventError } from "../errors";
import { auditJson, buildEntryDraft, type AuditSource } from "./entry";

const WS = "0190a1b2-0000-7000-8000-000000000001";
const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

const agent: Agent = {
  id: "0190a1b2-0000-7000-8000-0000000000bb",
  workspaceId: WS,
  name: "Support bot",
  description: null,
  provider: "openai",
  model: "gpt-4o-mini",
  systemPrompt: "Be kind.",
  temperature: 0.5,
  maxTokens: null,
  tools: [],
  knowledgeBaseIds: [],
  inputSchema: null,
  outputSchema: null,
  timeoutMs: null,
  notifyUrl: null,
  status: "draft",
  version: 1,
  createdBy: "0190a1b2-0000-7000-8000-0000000000aa",
  createdAt: "2025-01-02T03:04:05.678Z",
  updatedAt: "2025-01-02T03:04:05.678Z",
};

function source(event: Partial<TypedEvent> & Pick<TypedEvent, "type" | "data">, headers: Partial<AuditSource["headers"]> = {}): AuditSource {
  const base = { id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", occurredAt: "2025-01-02T03:04:05.678+01:00", workspaceId: WS, actor: { type: "user", id: agent.createdBy } } as const;
  return {
    event: { ...base, ...event } as TypedEvent,
    headers: { traceparent: TRACEPARENT, clientIp: "203.0.113.7", userAgent: "curl/8.5.0", ...headers },
  };
}

describe("an event's audit entry", () => {
  test("comes from the event and its headers alone", () => {
    const draft = buildEntryDraft(source({ type: "agent.created", data: { agent } }));
    expect(draft).toEqual({
      id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
      workspaceId: WS,
      actor: { type: "user", id: agent.createdBy },
      action: "agent.created",
      resourceType: "agent",
      resourceId: agent.id,
      changes: { before: null, after: { ...agent } },
      ipAddress: "203.0.113.7",
      userAgent: "curl/8.5.0",
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      // As the event wrote it, offset and all: this string is what gets hashed.
      occurredAt: "2025-01-02T03:04:05.678+01:00",
    });
  });

  test("is the same every time the event is read, so a replay hashes identically", () => {
    const input = source({ type: "agent.activated", data: { agentId: agent.id, version: 2, status: "active", before: "draft" } });
    const first = appendToChain(GENESIS_HEAD, buildEntryDraft(input));
    const again = appendToChain(GENESIS_HEAD, buildEntryDraft(structuredClone(input)));
    expect(again.hash).toBe(first.hash);
    expect(verifyChain([first], GENESIS_HEAD)).toEqual({ valid: true, entries: 1, head: { seq: 1, hash: first.hash } });
  });

  test("records missing headers as null and an invalid trace as none", () => {
    const draft = buildEntryDraft(
      source({ type: "agent.created", data: { agent } }, { clientIp: undefined, userAgent: undefined, traceparent: `00-${"0".repeat(32)}-00f067aa0ba902b7-01` }),
    );
    expect(draft).toMatchObject({ ipAddress: null, userAgent: null, traceId: null });
  });

  test("records an operator as a service actor, keeping its id", () => {
    const draft = buildEntryDraft(source({ type: "agent.created", data: { agent }, actor: { type: "operator", id: "ops@example.com" } }));
    expect(draft.actor).toEqual({ type: "service", id: "ops@example.com" });
  });

  test("leaves out undefined properties, which canonical JSON would refuse at the top of a value", () => {
    const execution = {
      id: "0190a1b2-0000-7000-8000-0000000000cc",
      workspaceId: WS,
      agentId: agent.id,
      agentVersion: 1,
      status: "queued",
      trigger: { type: "manual", id: undefined },
      input: { message: "hi" },
      output: null,
      error: null,
      usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0, costUsd: 0 },
      durationMs: null,
      createdAt: "2025-01-02T03:04:05.678Z",
      startedAt: null,
      completedAt: null,
    } as const;
    const draft = buildEntryDraft(source({ type: "execution.queued", data: { executionId: execution.id, seq: 1, execution } }));
    expect(draft.changes?.after).toEqual({ status: "queued", agentId: agent.id, agentVersion: 1, trigger: { type: "manual" } });
    expect(Object.keys(draft.changes?.after ?? {})).not.toContain("undefined");
  });
});

describe("auditJson", () => {
  test("redacts every secret field at any depth, whatever its value", () => {
    const value = {
      name: "bot",
      apiKey: "sk-live-123",
      nested: { Password: "hunter2", list: [{ token: { deep: true } }, { secret: null }], keep: "x" },
    };
    expect(auditJson(value)).toEqual({
      name: "bot",
      apiKey: REDACTED,
      nested: { Password: REDACTED, list: [{ token: REDACTED }, { secret: REDACTED }], keep: "x" },
    });
    expect(canonicalJson(auditJson(value))).not.toMatch(/sk-live|hunter2/);
  });

  test("makes strings storable and hashable: NUL and lone surrogates become U+FFFD", () => {
    expect(auditJson({ "k\u0000": "a\u0000b\ud800c😀" })).toEqual({ "k\uFFFD": "a\uFFFDb\uFFFDc😀" });
    expect(() => canonicalJson(auditJson(["\udc00"]))).not.toThrow();
  });

  test("keeps a __proto__ key as an ordinary key instead of a prototype", () => {
    const parsed: unknown = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}');
    const copy = auditJson(parsed);
    expect(canonicalJson(copy)).toBe('{"__proto__":{"polluted":true},"a":1}');
  });

  test("writes undefined array items as null, as JSON does", () => {
    expect(auditJson([1, undefined, "x"])).toEqual([1, null, "x"]);
  });

  test("refuses what JSON cannot carry", () => {
    expect(() => auditJson({ at: new Date(0) })).toThrow(UnauditableEventError);
    expect(() => auditJson({ n: Number.NaN })).toThrow(/\$\.n/);
    expect(() => auditJson({ f: () => 1 })).toThrow(UnauditableEventError);
  });
});
