import { randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { describe, expect, vi } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { GalaxyError, HEADER, deliveryExecutionId, type Execution } from "@galaxy/contracts";
import { busTest } from "../test/fixtures";
import { agent, agentCreated, execution, rejection } from "../test/support";
import { TerminalMessageError } from "./errors";
import { readJson } from "./payload-encoding";
import type { EventMessage, StoredEvent } from "./types";

/**
 * Messages larger than the NATS server carries (its `max_payload`) travel gzipped and arrive
 * whole (docs/bus.md, "Large messages"). Sizes are taken from the server the test runs on, so
 * the tests hold for NATS's 1 MB default and Galaxy's 4 MB configuration alike.
 */

/** Text of about `bytes` that compresses well, as a long prompt or a repeated document does. */
const compressible = (bytes: number): string => "Galaxy runs agents for many workspaces. ".repeat(Math.ceil(bytes / 40)).slice(0, bytes);

/** A `webhook.received` event carrying `body`, the delivery's JSON, as the gateway publishes it. */
function webhookReceived(ws: string, claim: string, body: unknown): StoredEvent {
  const [triggerId, webhookId] = [uuidv7(), `msg_${uuidv7()}`];
  const data = {
    triggerId, agentId: uuidv7(), webhookId, executionId: deliveryExecutionId(triggerId, webhookId), body,
    bodySha256: "0".repeat(64), bodySize: JSON.stringify(body).length, headers: {}, receivedAt: new Date().toISOString(),
  };
  const event = agentCreated(ws, claim, { type: "webhook.received", data });
  return { ...event, type: "webhook.received" };
}

const test = busTest
  .extend("publisher", { scope: "file" }, async ({ connect }) => connect("agent-registry"))
  .extend("worker", { scope: "file" }, async ({ connect }) => connect("execution-worker"))
  .extend("gatewayBus", { scope: "file" }, async ({ connect }) => connect("gateway"));

describe("large messages", () => {
  test("an event larger than max_payload is stored gzipped, and a consumer and a core subscriber see it whole", async ({ claims, publisher, worker, inspector }) => {
    const ws = uuidv7();
    const claim = await claims.sign({ ws });
    const body = { document: compressible(publisher.maxPayload + 256 * 1024) };
    const event = webhookReceived(ws, claim, body);
    const seen: EventMessage[] = [];
    const core: unknown[] = [];
    const subscription = worker.subscribeCore(`evt.${ws}.webhook.received`, (data) => core.push(data));
    await worker.flush();
    await worker.consume({ durable: `large-${ws.slice(-8)}`, filter: `evt.${ws}.>`, handler: async (m) => void seen.push(m) });
    await publisher.publishEvent(event);
    await vi.waitFor(() => expect(seen).toHaveLength(1), { timeout: 5_000 });
    const received = seen[0]?.event;
    expect(received?.type === "webhook.received" && received.data.body).toEqual(body);
    await vi.waitFor(() => expect(core).toHaveLength(1), { timeout: 5_000 });
    expect(core[0]).toEqual(event.payload);
    subscription.unsubscribe();

    const stored = await inspector.jsm.streams.getMessage(inspector.stream("EVENTS"), { last_by_subj: inspector.subject(`evt.${ws}.webhook.received`) });
    expect(stored?.header.get(HEADER.contentEncoding)).toBe("gzip");
    expect(stored?.data.length).toBeLessThan(publisher.maxPayload);
  });

  test("an event that fits is stored as plain JSON, with no encoding header", async ({ claims, publisher, inspector }) => {
    const ws = uuidv7();
    const event = agentCreated(ws, await claims.sign({ ws }));
    await publisher.publishEvent(event);
    const stored = await inspector.jsm.streams.getMessage(inspector.stream("EVENTS"), { last_by_subj: inspector.subject(`evt.${ws}.agent.created`) });
    expect(stored?.header.has(HEADER.contentEncoding)).toBe(false);
    expect(JSON.parse(new TextDecoder().decode(stored?.data))).toEqual(event.payload);
  });

  test("a request and its reply larger than max_payload travel gzipped and arrive whole", async ({ claims, connect, gatewayBus }) => {
    const ws = uuidv7();
    const server = await connect("execution-worker");
    server.serve("execution.start", async (req): Promise<Execution> => ({ ...execution(ws, uuidv7()), agentId: req.agentId, input: req.input }));
    await server.flush();
    const input = { document: compressible(gatewayBus.maxPayload + 256 * 1024) };
    const reply = await gatewayBus.request("execution.start", { agentId: uuidv7(), input }, { claim: await claims.sign({ ws }), workspaceId: ws });
    expect(reply.input).toEqual(input);
  });

  test("a request too large even gzipped is refused at once with 503 message_too_large, before anything is sent", async ({ claims, gatewayBus }) => {
    const ws = uuidv7();
    const input = { document: randomBytes(gatewayBus.maxPayload + 256 * 1024).toString("base64") };
    const error = await rejection(gatewayBus.request("execution.start", { agentId: uuidv7(), input }, { claim: await claims.sign({ ws }), workspaceId: ws }));
    expect(error).toMatchObject({ status: 503, code: "message_too_large", retryable: false });
  });

  test("large and small events published one after another are stored in that order", async ({ claims, publisher, worker }) => {
    const ws = uuidv7();
    const claim = await claims.sign({ ws });
    const large = () => webhookReceived(ws, claim, { document: compressible(publisher.maxPayload + 128 * 1024) });
    const events = [large(), agentCreated(ws, claim), large(), agentCreated(ws, claim), agentCreated(ws, claim), large()];
    const seen: string[] = [];
    await worker.consume({ durable: `order-${ws.slice(-8)}`, filter: `evt.${ws}.>`, handler: async (m) => void seen.push(m.event.id) });
    // As an outbox publishes a turn's events: all at once, each awaited together.
    await Promise.all(events.map((event) => publisher.publishEvent(event)));
    await vi.waitFor(() => expect(seen).toHaveLength(events.length), { timeout: 5_000 });
    expect(seen).toEqual(events.map((event) => event.id));
  });

  test("a gzipped event that cannot be applied is dead-lettered gzipped, headers and all, and reads back whole", async ({ claims, publisher, worker, inspector }) => {
    const ws = uuidv7();
    const body = { document: compressible(publisher.maxPayload + 128 * 1024) };
    const event = webhookReceived(ws, await claims.sign({ ws }), body);
    const durable = `refuses-${ws.slice(-8)}`;
    await worker.consume({ durable, filter: `evt.${ws}.>`, handler: async () => Promise.reject(new TerminalMessageError("refused", "this consumer refuses it")) });
    await publisher.publishEvent(event);
    const [letter] = await vi.waitFor(async () => {
      const letters = await inspector.deadLetters(durable);
      expect(letters).toHaveLength(1);
      return letters;
    }, { timeout: 5_000 });
    expect(letter?.header.get(HEADER.contentEncoding)).toBe("gzip");
    expect(letter?.header.get(HEADER.dlqError)).toMatch(/refuses it/);
    expect(readJson(letter?.header, letter?.data ?? new Uint8Array())).toEqual({ ok: true, value: event.payload });
  });

  test("a reply too large even gzipped is answered at once with 503 reply_too_large, not left to time out", async ({ claims, connect, gatewayBus }) => {
    const ws = uuidv7();
    const server = await connect("agent-registry");
    // Random bytes do not compress: gzipped they stay past the server's max_payload.
    const systemPrompt = randomBytes(gatewayBus.maxPayload + 256 * 1024).toString("base64");
    server.serve("registry.agents.get", async (req) => agent(ws, { id: req.id, systemPrompt }));
    await server.flush();
    const started = Date.now();
    const error = await rejection(gatewayBus.request("registry.agents.get", { id: uuidv7() }, { claim: await claims.sign({ ws }), workspaceId: ws, timeoutMs: 8_000 }));
    expect(error).toBeInstanceOf(GalaxyError);
    expect(error.status).toBe(503);
    expect(error.code).toBe("reply_too_large");
    expect(error.message).toMatch(/max_payload/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe("reading a payload", () => {
  const encoded = (encoding: string) => {
    const h = natsHeaders();
    h.set(HEADER.contentEncoding, encoding);
    return h;
  };
  const marked = () => encoded("gzip");
  const bytes = (text: string) => new TextEncoder().encode(text);

  test("plain JSON is read as it is, gzipped JSON inflated", () => {
    expect(readJson(undefined, bytes('{"a":1}'))).toEqual({ ok: true, value: { a: 1 } });
    expect(readJson(marked(), gzipSync(bytes('{"a":1}')))).toEqual({ ok: true, value: { a: 1 } });
  });

  test("a corrupt gzip, an unknown encoding, a payload inflating past 32 MiB and text that is no JSON are refused, not thrown", () => {
    expect(readJson(marked(), bytes('{"a":1}'))).toEqual({ ok: false });
    expect(readJson(encoded("br"), bytes('{"a":1}'))).toEqual({ ok: false });
    const bomb = gzipSync(Buffer.alloc(33 * 1024 * 1024, 0x20));
    expect(bomb.length).toBeLessThan(64 * 1024);
    expect(readJson(marked(), bomb)).toEqual({ ok: false });
    expect(readJson(undefined, bytes("not json"))).toEqual({ ok: false });
  });
});
