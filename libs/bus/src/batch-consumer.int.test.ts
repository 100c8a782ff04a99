import { describe, expect, vi } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { HEADER, UnavailableError, ValidationError, type Agent } from "@galaxy/contracts";
import { connectTestBus, incomingTraceparent } from "@galaxy/testkit";
import { busTest } from "../test/fixtures";
import type { Bus } from "./bus";
import type { EventMessage, StoredEvent } from "./types";

const test = busTest
  .extend("publisher", { scope: "file" }, async ({ connect }) => connect("agent-registry"))
  .extend("worker", { scope: "file" }, async ({ connect }) => connect("audit"));

function agentCreated(workspaceId: string, claim: string): StoredEvent {
  const id = uuidv7();
  const now = new Date().toISOString();
  const agent: Agent = {
    id: uuidv7(), workspaceId, status: "draft", version: 1, createdBy: uuidv7(), createdAt: now, updatedAt: now, name: "Summarizer",
    description: null, provider: "openai", model: "galaxy-dev-echo", systemPrompt: "Summarize.", temperature: null, maxTokens: null,
    tools: [], knowledgeBaseIds: [], inputSchema: null, outputSchema: null, timeoutMs: null, notifyUrl: null,
  };
  return {
    id,
    workspaceId,
    type: "agent.created",
    schemaVersion: 1,
    payload: { id, type: "agent.created", occurredAt: now, workspaceId, actor: { type: "user", id: uuidv7() }, data: { agent } },
    context: { claim, traceparent: incomingTraceparent(), correlationId: uuidv7(), causationId: uuidv7() },
  };
}

async function publishAll(publisher: Bus, events: StoredEvent[]): Promise<void> {
  for (const event of events) await publisher.publishEvent(event);
}

describe("consumeBatch", () => {
  test("hands over what is waiting in batches of at most maxBatch, in stream order, each event once", async ({ claims, publisher, worker, inspector }) => {
    const ws = uuidv7();
    const claim = await claims.sign({ ws });
    const events = Array.from({ length: 250 }, () => agentCreated(ws, claim));
    await publishAll(publisher, events);
    const batches: EventMessage[][] = [];
    await worker.consumeBatch({ durable: "batch-order", filter: `evt.${ws}.>`, maxBatch: 100, handler: async (batch) => void batches.push(batch) });
    await vi.waitFor(() => expect(batches.flat()).toHaveLength(250), { timeout: 10_000 });
    expect(batches.flat().map((m) => m.event.id)).toEqual(events.map((e) => e.id));
    expect(Math.max(...batches.map((b) => b.length))).toBeLessThanOrEqual(100);
    // The events were all waiting: they cannot have come one at a time.
    expect(batches.length).toBeLessThan(250);
    const seqs = batches.flat().map((m) => m.streamSeq);
    expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
    await vi.waitFor(async () => expect(await inspector.consumerState("batch-order")).toEqual({ pending: 0, ackPending: 0 }));
  });

  test("a forged event in a batch is dead-lettered alone; the events around it are applied in order", async ({ claims, publisher, worker, inspector }) => {
    const ws = uuidv7();
    const claim = await claims.sign({ ws });
    const before = Array.from({ length: 20 }, () => agentCreated(ws, claim));
    const forged = agentCreated(ws, await claims.sign({ ws: uuidv7() }));
    const after = Array.from({ length: 20 }, () => agentCreated(ws, claim));
    await publishAll(publisher, [...before, forged, ...after]);
    const applied: string[] = [];
    await worker.consumeBatch({ durable: "batch-forged", filter: `evt.${ws}.agent.>`, handler: async (batch) => void applied.push(...batch.map((m) => m.event.id)) });
    await vi.waitFor(() => expect(applied).toHaveLength(40), { timeout: 10_000 });
    expect(applied).toEqual([...before, ...after].map((e) => e.id));
    const dead = await vi.waitFor(async () => {
      const found = await inspector.deadLetters("batch-forged");
      expect(found).toHaveLength(1);
      return found;
    });
    expect(dead[0]?.header.get(HEADER.dlqError)).toMatch(/different workspaces/);
    await vi.waitFor(async () => expect(await inspector.consumerState("batch-forged")).toEqual({ pending: 0, ackPending: 0 }));
  });

  test("after a failed batch each event is applied alone: a transient failure retries in place, a terminal one dead-letters that event", async ({ claims, publisher, worker, inspector }) => {
    const ws = uuidv7();
    const claim = await claims.sign({ ws });
    const events = Array.from({ length: 30 }, () => agentCreated(ws, claim));
    const poison = events[10];
    const flaky = events[20];
    if (!poison || !flaky) throw new Error("too few events");
    await publishAll(publisher, events);
    const applied: string[] = [];
    const sizes: number[] = [];
    let flakyFailures = 0;
    await worker.consumeBatch({
      durable: "batch-fallback",
      filter: `evt.${ws}.>`,
      backoffMs: 10,
      handler: async (batch) => {
        sizes.push(batch.length);
        const ids = batch.map((m) => m.event.id);
        // All or nothing, as one database transaction would be.
        if (ids.includes(poison.id)) throw new ValidationError("this event can never be applied");
        if (ids.includes(flaky.id) && flakyFailures < 3) {
          flakyFailures++;
          throw new UnavailableError("the database went away");
        }
        applied.push(...ids);
      },
    });
    await vi.waitFor(() => expect(applied).toHaveLength(29), { timeout: 10_000 });
    expect(applied).toEqual(events.filter((e) => e !== poison).map((e) => e.id));
    expect(sizes[0]).toBeGreaterThan(1);
    expect(sizes).toContain(1);
    const dead = await vi.waitFor(async () => {
      const found = await inspector.deadLetters("batch-fallback");
      expect(found).toHaveLength(1);
      return found;
    });
    expect(dead[0]?.header.get(HEADER.dlqError)).toBe("this event can never be applied");
    expect(dead[0]?.header.get(HEADER.dlqDeliveries)).toBe("1");
    await vi.waitFor(async () => expect(await inspector.consumerState("batch-fallback")).toEqual({ pending: 0, ackPending: 0 }));
  });

  test("events the handler refuses for good are dead-lettered alone, without applying the batch again; a refusal that is not terminal applies it one event at a time", async ({ claims, publisher, worker, inspector }) => {
    const ws = uuidv7();
    const claim = await claims.sign({ ws });
    const events = Array.from({ length: 30 }, () => agentCreated(ws, claim));
    const refused = events[5];
    const flaky = events[15];
    if (!refused || !flaky) throw new Error("too few events");
    await publishAll(publisher, events);
    const sizes: number[] = [];
    const handed: string[] = [];
    let flakyRefusals = 0;
    await worker.consumeBatch({
      durable: "batch-refusals",
      filter: `evt.${ws}.>`,
      backoffMs: 10,
      handler: async (batch) => {
        sizes.push(batch.length);
        handed.push(...batch.map((m) => m.event.id));
        const refusals = batch.filter((m) => m.event.id === refused.id).map((message) => ({ message, error: new ValidationError("this one can never start") }));
        const unlucky = batch.find((m) => m.event.id === flaky.id);
        if (unlucky && flakyRefusals < 1) {
          flakyRefusals++;
          refusals.push({ message: unlucky, error: new UnavailableError("the database went away") });
        }
        return refusals;
      },
    });
    await vi.waitFor(async () => expect(await inspector.consumerState("batch-refusals")).toEqual({ pending: 0, ackPending: 0 }), { timeout: 10_000 });
    const dead = await inspector.deadLetters("batch-refusals");
    expect(dead.map((m) => m.header.get(HEADER.dlqError))).toEqual(["this one can never start"]);
    expect(dead[0]?.header.get(HEADER.dlqDeliveries)).toBe("1");
    // Every event was handed over; the refusal that was not terminal sent its batch one event at a time.
    expect(new Set(handed)).toEqual(new Set(events.map((e) => e.id)));
    expect(flakyRefusals).toBe(1);
    expect(sizes).toContain(1);
  });

  test("while an event is retried in place, the rest of its batch and the events queued behind it are kept alive: none is redelivered", async ({ claims, publisher, worker, inspector }) => {
    const ws = uuidv7();
    const claim = await claims.sign({ ws });
    const events = Array.from({ length: 20 }, () => agentCreated(ws, claim));
    const later = Array.from({ length: 10 }, () => agentCreated(ws, claim));
    const first = events[0];
    if (!first) throw new Error("too few events");
    await publishAll(publisher, events);
    const applied: EventMessage[] = [];
    let failures = 0;
    await worker.consumeBatch({
      durable: "batch-keepalive",
      filter: `evt.${ws}.>`,
      // The outage (about 4.5 s of retries) lasts three ack waits.
      ackWaitMs: 1_500,
      backoffMs: 300,
      handler: async (batch) => {
        if (batch.some((m) => m.event.id === first.id) && failures < 5) {
          failures++;
          if (failures === 1) await publishAll(publisher, later);
          throw new UnavailableError("the database went away");
        }
        applied.push(...batch);
      },
    });
    await vi.waitFor(async () => expect(await inspector.consumerState("batch-keepalive")).toEqual({ pending: 0, ackPending: 0 }), { timeout: 20_000 });
    expect(failures).toBe(5);
    expect(applied.map((m) => m.event.id)).toEqual([...events, ...later].map((e) => e.id));
    expect(applied.map((m) => m.deliveryCount)).toEqual(applied.map(() => 1));
  });

  test("consume (one at a time) keeps the events queued behind a retried one alive too", async ({ claims, publisher, worker, inspector }) => {
    const ws = uuidv7();
    const claim = await claims.sign({ ws });
    const events = Array.from({ length: 10 }, () => agentCreated(ws, claim));
    const first = events[0];
    if (!first) throw new Error("too few events");
    await publishAll(publisher, events);
    const applied: EventMessage[] = [];
    let failures = 0;
    await worker.consume({
      durable: "single-keepalive",
      filter: `evt.${ws}.>`,
      ackWaitMs: 1_500,
      backoffMs: 300,
      handler: async (message) => {
        if (message.event.id === first.id && failures < 4) {
          failures++;
          throw new UnavailableError("the database went away");
        }
        applied.push(message);
      },
    });
    await vi.waitFor(async () => expect(await inspector.consumerState("single-keepalive")).toEqual({ pending: 0, ackPending: 0 }), { timeout: 20_000 });
    expect(applied.map((m) => m.event.id)).toEqual(events.map((e) => e.id));
    expect(applied.map((m) => m.deliveryCount)).toEqual(applied.map(() => 1));
  });

  test("stopping one consumer ends its retry at once and hands its events back to the next one", async ({ env, claims, publisher, worker }) => {
    const ws = uuidv7();
    const claim = await claims.sign({ ws });
    const events = Array.from({ length: 5 }, () => agentCreated(ws, claim));
    await publishAll(publisher, events);
    let tried = 0;
    // A short ack wait: a handed-back event JetStream sends to the stopped consumer's
    // last pull request comes back once it passes.
    const ackWaitMs = 2_000;
    const stuck = await worker.consumeBatch({
      durable: "batch-handover",
      filter: `evt.${ws}.>`,
      ackWaitMs,
      backoffMs: 60_000,
      handler: async (batch) => {
        tried += batch.length === 1 ? 1 : 0;
        throw new UnavailableError("the database went away");
      },
    });
    await vi.waitFor(() => expect(tried).toBe(1));
    // Without a stop of its own, this would wait out the minute-long retry (and the test time out).
    await stuck.stop();
    const applied = new Set<string>();
    const next = await connectTestBus(env, "audit");
    try {
      await next.consumeBatch({ durable: "batch-handover", filter: `evt.${ws}.>`, ackWaitMs, handler: async (batch) => batch.forEach((m) => applied.add(m.event.id)) });
      await vi.waitFor(() => expect(applied).toEqual(new Set(events.map((e) => e.id))), { timeout: 10_000 });
      expect(tried).toBe(1);
    } finally {
      await next.close();
    }
  });
});
