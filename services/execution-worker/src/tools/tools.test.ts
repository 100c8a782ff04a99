import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { listenOnLoopback } from "@galaxy/testkit/loopback";
import { describe, expect, test as base } from "vitest";
import type { AgentTool, KnowledgeSearchHit } from "@galaxy/contracts";
import { parseAllowlist, verifyWebhook } from "@galaxy/webhooks";
import { runTool, toolSpecs, type ToolContext, type ToolSettings } from "./tools";
import { MasterKeyEnv, webhookToolSecret } from "./tool-secret";

const masterKey = randomBytes(32).toString("base64");
const ws = "0190a1b2-0000-7000-8000-000000000001";
const agentId = "0190a1b2-0000-7000-8000-0000000000aa";
const executionId = "0190a1b2-0000-7000-8000-0000000000ee";

/** A webhook tool's receiver on loopback: what it was sent, and what it answers next. */
interface ToolServer {
  url: string;
  bodies: Array<{ headers: Record<string, string | string[] | undefined>; body: string }>;
  answer: { status: number; body: string };
}

type WebhookTool = Extract<AgentTool, { type: "webhook" }>;

/**
 * Each set up once per file:
 * - `toolServer`: the receiver webhook tools call, closed after the file's last test;
 * - `webhook`: makes a webhook tool ("lookup") that calls `toolServer`.
 */
const test = base
  .extend("toolServer", { scope: "file" }, async ({}, { onCleanup }): Promise<ToolServer> => {
    const tool: ToolServer = { url: "", bodies: [], answer: { status: 200, body: '{"ok":true}' } };
    const server: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        tool.bodies.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
        res.writeHead(tool.answer.status, { "content-type": "application/json" });
        res.end(tool.answer.body);
      });
    });
    const listening = await listenOnLoopback(server);
    onCleanup(listening.close);
    tool.url = `http://127.0.0.1:${listening.port}/tool`;
    return tool;
  })
  .extend("webhook", { scope: "file" }, async ({ toolServer }) => (overrides: Partial<WebhookTool> = {}): AgentTool => ({
    type: "webhook",
    name: "lookup",
    description: "Looks a word up",
    parameters: { type: "object", properties: { word: { type: "string", minLength: 2 } }, required: ["word"] },
    url: toolServer.url,
    ...overrides,
  }));

const hits: KnowledgeSearchHit[] = [{ knowledgeBaseId: agentId, documentId: executionId, chunkIndex: 0, chunk: "Galaxy runs agents.", score: 0.912345 }];
const searches: Array<{ query: string; topK: number }> = [];

function context(overrides: Partial<ToolContext> = {}): ToolContext {
  return {
    workspaceId: ws,
    agentId,
    executionId,
    round: 1,
    index: 0,
    knowledgeBaseIds: [agentId],
    searchKnowledge: async (query, topK) => {
      searches.push({ query, topK });
      return hits;
    },
    signal: new AbortController().signal,
    now: () => new Date("2026-11-26T10:00:00.000Z"),
    ...overrides,
  };
}

const settings = (overrides: Partial<ToolSettings> = {}): ToolSettings => ({ policy: parseAllowlist("127.0.0.1"), masterKey, timeoutMs: 5_000, ...overrides });
const call = (name: string, args: unknown) => ({ id: "call_1", name, arguments: typeof args === "string" ? args : JSON.stringify(args) });
const builtin = (name: "calculator" | "current_time" | "knowledge_search"): AgentTool => ({ type: "builtin", name });
describe("tool specs", () => {
  test("builtins have their own schemas; webhook tools are offered as declared, in the agent's order", ({ webhook }) => {
    const specs = toolSpecs([webhook(), builtin("calculator")]);
    expect(specs.map((spec) => spec.name)).toEqual(["lookup", "calculator"]);
    expect(specs[0]).toEqual({ name: "lookup", description: "Looks a word up", parameters: { type: "object", properties: { word: { type: "string", minLength: 2 } }, required: ["word"] } });
    expect(specs[1]?.parameters).toMatchObject({ required: ["expression"] });
  });
});

describe("builtin tools", () => {
  test("calculator computes; a bad expression is an invalid_arguments result the model reads", async () => {
    expect(await runTool(call("calculator", { expression: "6 * 7" }), [builtin("calculator")], context(), settings())).toMatchObject({ ok: true, content: "42", detail: { tool: "calculator", result: "42" } });
    expect(await runTool(call("calculator", { expression: "6 *" }), [builtin("calculator")], context(), settings())).toMatchObject({
      ok: false,
      code: "invalid_arguments",
      content: "error: The expression ends too early",
    });
  });

  test("current_time answers UTC, or the time zone asked, and refuses an unknown zone", async () => {
    expect((await runTool(call("current_time", {}), [builtin("current_time")], context(), settings())).content).toBe("2026-11-26T10:00:00.000Z");
    expect((await runTool(call("current_time", { timezone: "Asia/Tokyo" }), [builtin("current_time")], context(), settings())).content).toBe(
      "2026-11-26T19:00:00 (Asia/Tokyo); 2026-11-26T10:00:00.000Z UTC",
    );
    expect(await runTool(call("current_time", { timezone: "Mars/Olympus" }), [builtin("current_time")], context(), settings())).toMatchObject({ ok: false, code: "invalid_arguments" });
  });

  test("knowledge_search searches the agent's knowledge bases with the query and topK", async () => {
    const result = await runTool(call("knowledge_search", { query: "what runs agents?", topK: 3 }), [builtin("knowledge_search")], context(), settings());
    expect(result).toMatchObject({ ok: true, detail: { hits: 1 } });
    expect(JSON.parse(result.content)).toEqual([{ documentId: executionId, chunk: "Galaxy runs agents.", score: 0.9123 }]);
    expect(searches.at(-1)).toEqual({ query: "what runs agents?", topK: 3 });
  });

  test("knowledge_search without knowledge bases, or with the registry down, is a failed call", async () => {
    expect(await runTool(call("knowledge_search", { query: "x" }), [builtin("knowledge_search")], context({ knowledgeBaseIds: [] }), settings())).toMatchObject({ ok: false, code: "tool_failed" });
    const down = context({
      searchKnowledge: async () => {
        throw new Error("the registry service did not answer");
      },
    });
    expect(await runTool(call("knowledge_search", { query: "x" }), [builtin("knowledge_search")], down, settings())).toMatchObject({
      ok: false,
      content: "error: The knowledge bases could not be searched: the registry service did not answer",
    });
  });
});

describe("arguments", () => {
  test("an unknown tool, arguments that are not a JSON object, or that break the tool's schema are refused before any call", async ({ toolServer, webhook }) => {
    const before = toolServer.bodies.length;
    expect(await runTool(call("nope", {}), [webhook()], context(), settings())).toMatchObject({ ok: false, code: "unknown_tool" });
    expect(await runTool(call("lookup", "{not json"), [webhook()], context(), settings())).toMatchObject({ ok: false, code: "invalid_arguments", content: "error: The arguments are not valid JSON" });
    expect(await runTool(call("lookup", "[1]"), [webhook()], context(), settings())).toMatchObject({ ok: false, code: "invalid_arguments" });
    expect(await runTool(call("lookup", { word: "x" }), [webhook()], context(), settings())).toMatchObject({
      ok: false,
      code: "invalid_arguments",
      content: "error: The arguments do not match the tool's parameters: /word must NOT have fewer than 2 characters",
    });
    expect(await runTool(call("calculator", { expression: "1", extra: true }), [builtin("calculator")], context(), settings())).toMatchObject({ ok: false, code: "invalid_arguments" });
    expect(toolServer.bodies.length).toBe(before);
  });
});

describe("webhook tools", () => {
  test("a call is a signed POST of the execution, the tool and its arguments; a 2xx body is the result", async ({ toolServer, webhook }) => {
    toolServer.answer = { status: 200, body: '{"definition":"a system of stars"}' };
    const result = await runTool(call("lookup", { word: "galaxy" }), [webhook()], context(), settings());
    expect(result).toMatchObject({ ok: true, content: '{"definition":"a system of stars"}', detail: { type: "webhook", status: 200, webhookId: `${executionId}.1.0.call_1` } });
    const sent = toolServer.bodies.at(-1);
    expect(JSON.parse(sent?.body ?? "")).toEqual({ executionId, agentId, tool: "lookup", callId: "call_1", arguments: { word: "galaxy" } });
    const verdict = verifyWebhook(
      [webhookToolSecret(masterKey, ws, agentId)],
      { id: String(sent?.headers["webhook-id"]), timestamp: String(sent?.headers["webhook-timestamp"]), signature: String(sent?.headers["webhook-signature"]) },
      Buffer.from(sent?.body ?? ""),
      Math.floor(Date.now() / 1000),
    );
    expect(verdict).toMatchObject({ ok: true, id: `${executionId}.1.0.call_1` });
  });

  test("calls sharing a call id (a provider's fallback ids repeat across rounds) still get different webhook-ids", async ({ toolServer, webhook }) => {
    toolServer.answer = { status: 200, body: "{}" };
    const ids = new Set<string>();
    for (const position of [{ round: 1, index: 0 }, { round: 2, index: 0 }, { round: 1, index: 1 }]) {
      const result = await runTool(call("lookup", { word: "galaxy" }), [webhook()], context(position), settings());
      ids.add(String(result.detail.webhookId));
      expect(String(toolServer.bodies.at(-1)?.headers["webhook-id"])).toBe(result.detail.webhookId);
    }
    expect(ids.size).toBe(3);
  });

  test("an unexpected error inside a tool is a tool_failed result for the model, never thrown (which would rerun the execution)", async ({ webhook }) => {
    const short = randomBytes(16).toString("base64");
    const result = await runTool(call("lookup", { word: "galaxy" }), [webhook()], context(), settings({ masterKey: short }));
    expect(result).toMatchObject({ ok: false, code: "tool_failed", detail: { error: { code: "tool_failed" } } });
    expect(result.content).toMatch(/^error: The tool failed unexpectedly: GALAXY_MASTER_KEY must be at least 32 bytes/);
  });

  test("an answer other than 2xx is a failed call carrying the status", async ({ toolServer, webhook }) => {
    toolServer.answer = { status: 503, body: "busy" };
    expect(await runTool(call("lookup", { word: "galaxy" }), [webhook()], context(), settings())).toMatchObject({ ok: false, code: "tool_failed", content: "error: The tool answered 503: busy", detail: { status: 503 } });
    toolServer.answer = { status: 200, body: "{}" };
  });

  test("the outbound policy and a missing master key stop the call", async ({ webhook }) => {
    expect(await runTool(call("lookup", { word: "galaxy" }), [webhook()], context(), settings({ policy: parseAllowlist("") }))).toMatchObject({
      ok: false,
      code: "outbound_refused",
      detail: { reason: "private_address" },
    });
    expect(await runTool(call("lookup", { word: "galaxy" }), [webhook()], context(), settings({ masterKey: undefined }))).toMatchObject({ ok: false, code: "tool_failed" });
  });
});

describe("webhook tool secrets", () => {
  test("are Standard Webhooks secrets, the same for one agent every time, different for every agent, workspace and master key", () => {
    const secret = webhookToolSecret(masterKey, ws, agentId);
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(webhookToolSecret(masterKey, ws, agentId)).toBe(secret);
    expect(webhookToolSecret(masterKey, ws, executionId)).not.toBe(secret);
    expect(webhookToolSecret(masterKey, executionId, agentId)).not.toBe(secret);
    expect(webhookToolSecret(randomBytes(32).toString("base64"), ws, agentId)).not.toBe(secret);
  });

  test("need a master key of 32 bytes", () => {
    expect(() => webhookToolSecret(randomBytes(16).toString("base64"), ws, agentId)).toThrow(/32 bytes/);
  });

  test("the worker's environment refuses a short GALAXY_MASTER_KEY at startup", () => {
    expect(MasterKeyEnv.safeParse(randomBytes(16).toString("base64")).success).toBe(false);
    expect(MasterKeyEnv.safeParse("not-a-key").success).toBe(false);
    expect(MasterKeyEnv.safeParse(masterKey).success).toBe(true);
  });
});
