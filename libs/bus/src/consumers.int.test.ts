import { describe, expect, vi } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { HEADER } from "@galaxy/contracts";
import { connectTestBus } from "@galaxy/testkit";
import { busTest } from "../test/fixtures";
import { agent, agentCreated, decode, execution, rejection } from "../test/support";
import { ConsumerNotFoundError } from "./errors";
import type { EventMessage, StoredEvent } from "./types";

/** Durable consumers: what a handler sees, in what order, acked when (docs/bus.md, "Consumers"). */

const test = busTest
  .extend("gatewayBus", { scope: "file" }, async ({ connect }) => connect("gateway"))
  .extend("publisher", { scope: "file" }, async ({ connect }) => connect("agent-registry"))
  .extend("worker", { scope: "file" }, async ({ connect }) => connect("execution-worker"))
  // The agent registry answering `registry.agents.get`, for the whole file (auto): a test asks it through a bus of its own.
  .extend("server", { scope: "file", auto: true }, async ({ connect }) => {
    const server = await connect("agent-registry");
    server.serve("registry.agents.get", async (req, ctx) => agent(ctx.claim?.ws ?? uuidv7(), { id: req.id }));
    await server.flush();
    return server;
  });

describe("events", () => {
  test("a consumer sees each event typed, with its claim and stream sequence, in publish order", async ({ claims, publisher, worker, inspector }) => {
    const ws = uuidv7();
    const claim = await claims.sign({ ws, role: "admin" });
    const seen: EventMessage[] = [];
    await worker.consume({ durable: "in-order", filter: `evt.${ws}.>`, handler: async (m) => void seen.push(m) });
    const events = Array.from({ length: 5 }, () => agentCreated(ws, claim));
    await Promise.all(events.map((event) => publisher.publishEvent(event)));
    await vi.waitFor(() => expect(seen).toHaveLength(5), { timeout: 5_000 });
    expect(seen.map((m) => m.event.id)).toEqual(events.map((e) => e.id));
    const seqs = seen.map((m) => m.streamSeq);
    expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
    expect(new Set(seqs).size).toBe(5);
    const first = seen[0];
    expect(first?.event.type).toBe("agent.created");
    if (first?.event.type === "agent.created") expect(first.event.data.agent.workspaceId).toBe(ws);
    expect(first?.claim).toMatchObject({ ws, role: "admin" });
    expect(first?.claimToken).toBe(claim);
    expect(first?.subject).toBe(`evt.${ws}.agent.created`);
    expect(first?.deliveryCount).toBe(1);
    expect(first?.headers.correlationId).toBe(events[0]?.context.correlationId);
    await vi.waitFor(async () => expect(await inspector.consumerState("in-order")).toEqual({ pending: 0, ackPending: 0 }));
  });

  test("a consumer given `only` acks the other events unread, neither verified, dead-lettered nor handed over, and checks its own types as ever", async ({ claims, publisher, worker, inspector }) => {
    const ws = uuidv7();
    const claim = await claims.sign({ ws });
    const activated = (): StoredEvent => {
      const event = agentCreated(ws, claim, { type: "agent.activated", data: { agentId: uuidv7(), version: 1, status: "active", before: "draft" } });
      return { ...event, type: "agent.activated" };
    };
    const [first, second] = [activated(), activated()];
    // An agent.created whose claim no key signed: read, it would be a dead letter.
    const unsigned = agentCreated(ws, "not.a.claim");
    // An agent.activated as unsigned: of a type the consumer applies, so checked and refused.
    const unsignedActivation = { ...activated(), context: { ...unsigned.context } };
    const events = [agentCreated(ws, claim), first, unsigned, unsignedActivation, second, agentCreated(ws, claim)];
    for (const event of events) await publisher.publishEvent(event);
    const seen: string[] = [];
    await worker.consume({ durable: "only-activations", filter: `evt.${ws}.agent.>`, only: ["agent.activated"], handler: async (m) => void seen.push(m.event.id) });
    await vi.waitFor(async () => expect(await inspector.consumerState("only-activations")).toEqual({ pending: 0, ackPending: 0 }), { timeout: 5_000 });
    expect(seen).toEqual([first.id, second.id]);
    const refused = await inspector.deadLetters("only-activations");
    expect(refused.map((m) => JSON.parse(new TextDecoder().decode(m.data)))).toEqual([expect.objectContaining({ id: unsignedActivation.id, type: "agent.activated" })]);
    // The same events without `only`: both unsigned ones are refused.
    await worker.consume({ durable: "every-agent-event", filter: `evt.${ws}.agent.>`, handler: async () => undefined });
    await vi.waitFor(async () => expect(await inspector.deadLetters("every-agent-event")).toHaveLength(2), { timeout: 5_000 });
  });

  test("a consumer with `existingOnly` never creates its durable; once the durable exists, it consumes it", async ({ claims, publisher, worker }) => {
    const ws = uuidv7();
    const durable = `retired-${ws.slice(-8)}`;
    const seen: EventMessage[] = [];
    const options = { durable, filter: `evt.${ws}.>`, handler: async (m: EventMessage) => void seen.push(m), existingOnly: true };
    await expect(worker.consume(options)).rejects.toBeInstanceOf(ConsumerNotFoundError);
    expect(await worker.consumerExists(durable)).toBe(false);

    await worker.consume({ ...options, existingOnly: false, handler: async () => {} }).then((handle) => handle.stop());
    expect(await worker.consumerExists(durable)).toBe(true);
    await worker.consume(options);
    const event = agentCreated(ws, await claims.sign({ ws, role: "admin" }));
    await publisher.publishEvent(event);
    await vi.waitFor(() => expect(seen.map((m) => m.event.id)).toEqual([event.id]), { timeout: 5_000 });
  });

  test("many publishes made without awaiting between them land in the stream in call order", async ({ claims, publisher, worker }) => {
    const ws = uuidv7();
    const claim = await claims.sign({ ws });
    const events = Array.from({ length: 40 }, () => agentCreated(ws, claim));
    await Promise.all(events.map((event) => publisher.publishEvent(event)));
    const seen: string[] = [];
    await worker.consume({ durable: "publish-order", filter: `evt.${ws}.>`, handler: async (m) => void seen.push(m.event.id) });
    await vi.waitFor(() => expect(seen).toHaveLength(40), { timeout: 5_000 });
    expect(seen).toEqual(events.map((e) => e.id));
  });

  test("each event carries the headers of docs/bus.md, and its id as Nats-Msg-Id", async ({ claims, publisher, inspector }) => {
    const ws = uuidv7();
    const event = agentCreated(ws, await claims.sign({ ws }));
    await publisher.publishEvent(event);
    const stored = await inspector.jsm.streams.getMessage(inspector.stream("EVENTS"), { last_by_subj: inspector.subject(`evt.${ws}.agent.created`) });
    expect(stored?.header.get(HEADER.msgId)).toBe(event.id);
    expect(stored?.header.get(HEADER.workspaceId)).toBe(ws);
    expect(stored?.header.get(HEADER.claim)).toBe(event.context.claim);
    expect(stored?.header.get(HEADER.eventType)).toBe("agent.created");
    expect(stored?.header.get(HEADER.schemaVersion)).toBe("1");
    expect(stored?.header.get(HEADER.traceparent)).toBe(event.context.traceparent);
    expect(decode(stored?.data ?? new Uint8Array())).toEqual(event.payload);
  });

  test("an event is acked only after its handler returns", async ({ claims, publisher, worker, inspector }) => {
    const ws = uuidv7();
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered = false;
    let done = false;
    await worker.consume({
      durable: "ack-after",
      filter: `evt.${ws}.>`,
      handler: async () => {
        entered = true;
        await gate;
        done = true;
      },
    });
    await publisher.publishEvent(agentCreated(ws, await claims.sign({ ws })));
    await vi.waitFor(() => expect(entered).toBe(true), { timeout: 5_000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await inspector.consumerState("ack-after")).toEqual({ pending: 0, ackPending: 1 });
    release();
    await vi.waitFor(() => expect(done).toBe(true));
    await vi.waitFor(async () => expect(await inspector.consumerState("ack-after")).toEqual({ pending: 0, ackPending: 0 }));
  });


  test("an event's claim is accepted after it expired; the same claim on a request is not", async ({ claims, gatewayBus: caller, publisher, worker, inspector }) => {
    const ws = uuidv7();
    const expired = await claims.sign({ ws, ttlS: -3_600 });
    const applied: EventMessage[] = [];
    await worker.consume({ durable: "old-facts", filter: `evt.${ws}.>`, handler: async (m) => void applied.push(m) });
    await publisher.publishEvent(agentCreated(ws, expired));
    await vi.waitFor(() => expect(applied).toHaveLength(1), { timeout: 5_000 });
    expect(applied[0]?.claim.exp).toBeLessThan(Date.now() / 1000);
    expect(await inspector.deadLetters("old-facts")).toEqual([]);

    // The worker has now verified (and cached) this claim; a request with it must still fail.
    worker.serve("execution.get", async (req) => execution(ws, req.id));
    // The subscription must reach the server before the request does (another connection).
    await worker.flush();
    const error = await rejection(caller.request("execution.get", { id: uuidv7() }, { claim: expired, workspaceId: ws }));
    expect(error).toMatchObject({ status: 401, code: "claim_expired" });
  });

  test("a consumer started again under the same durable resumes after what it acked", async ({ env, claims, publisher, inspector }) => {
    const ws = uuidv7();
    const claim = await claims.sign({ ws });
    const first = await connectTestBus(env, "audit");
    const applied: string[] = [];
    await first.consume({ durable: "resumable", filter: `evt.${ws}.>`, handler: async (m) => void applied.push(m.event.id) });
    const before = agentCreated(ws, claim);
    await publisher.publishEvent(before);
    await vi.waitFor(() => expect(applied).toEqual([before.id]), { timeout: 5_000 });
    await vi.waitFor(async () => expect(await inspector.consumerState("resumable")).toEqual({ pending: 0, ackPending: 0 }));
    await first.close();

    const after = agentCreated(ws, claim);
    await publisher.publishEvent(after);
    const second = await connectTestBus(env, "audit");
    try {
      await second.consume({ durable: "resumable", filter: `evt.${ws}.>`, handler: async (m) => void applied.push(m.event.id) });
      await vi.waitFor(() => expect(applied).toEqual([before.id, after.id]), { timeout: 5_000 });
    } finally {
      await second.close();
    }
  });

  test("instances sharing a durable share the work: each event is applied once", async ({ env, claims, publisher, worker }) => {
    const ws = uuidv7();
    const claim = await claims.sign({ ws });
    const second = await connectTestBus(env, "execution-worker");
    const applied: Array<{ instance: number; id: string }> = [];
    try {
      await Promise.all(
        [worker, second].map((bus, instance) =>
          bus.consume({ durable: "shared", filter: `evt.${ws}.>`, handler: async (m) => void applied.push({ instance, id: m.event.id }) }),
        ),
      );
      const events = Array.from({ length: 20 }, () => agentCreated(ws, claim));
      await Promise.all(events.map((event) => publisher.publishEvent(event)));
      await vi.waitFor(() => expect(applied).toHaveLength(20), { timeout: 5_000 });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(applied.map((a) => a.id).sort()).toEqual(events.map((e) => e.id).sort());
    } finally {
      await second.close();
    }
  });

  test("core subscribers see events too, under their unprefixed subject", async ({ claims, publisher, worker }) => {
    const ws = uuidv7();
    const seen: Array<{ subject: string; data: unknown }> = [];
    worker.subscribeCore(`evt.${ws}.agent.*`, (data, subject) => seen.push({ subject, data }));
    await worker.flush();
    const event = agentCreated(ws, await claims.sign({ ws }));
    await publisher.publishEvent(event);
    await vi.waitFor(() => expect(seen).toHaveLength(1), { timeout: 5_000 });
    expect(seen[0]).toEqual({ subject: `evt.${ws}.agent.created`, data: event.payload });
  });

  test("a core subscriber that throws costs neither its later messages nor the connection", async ({ env, claims, publisher }) => {
    const ws = uuidv7();
    const bus = await connectTestBus(env, "gateway");
    try {
      const seen: string[] = [];
      bus.subscribeCore(`live.${ws}.execution.*`, (data, subject) => {
        seen.push(subject);
        if (seen.length === 1) throw new Error("the cache invalidation handler broke");
      });
      await bus.flush();
      publisher.publishCore(`live.${ws}.execution.e1`, { delta: "a" });
      publisher.publishCore(`live.${ws}.execution.e2`, { delta: "b" });
      await vi.waitFor(() => expect(seen).toEqual([`live.${ws}.execution.e1`, `live.${ws}.execution.e2`]), { timeout: 2_000 });
      const reply = await bus.request("registry.agents.get", { id: uuidv7() }, { claim: await claims.sign({ ws }), workspaceId: ws, timeoutMs: 2_000 });
      expect(reply.workspaceId).toBe(ws);
    } finally {
      await bus.close();
    }
  });
});
