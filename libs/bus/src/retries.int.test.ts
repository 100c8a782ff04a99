import { afterAll, beforeAll, describe, expect, inject, test, vi } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { HEADER, ValidationError } from "@galaxy/contracts";
import { connectTestBus, createTestEnv, TestClaims, type TestEnv } from "@galaxy/testkit";
import { agentCreated, decode, StreamInspector } from "../test/support";
import type { Bus } from "./bus";

/** How a consumer retries a failing handler, and when it gives a message up (docs/bus.md, "Retry policy"). */

let env: TestEnv;
let claims: TestClaims;
let identity: Bus;
let publisher: Bus;
let worker: Bus;
let inspector: StreamInspector;

beforeAll(async () => {
  env = await createTestEnv(inject("engines"));
  claims = await TestClaims.create();
  identity = await connectTestBus(env, "identity");
  await claims.serve(identity);
  publisher = await connectTestBus(env, "agent-registry");
  worker = await connectTestBus(env, "execution-worker");
  inspector = await StreamInspector.open(env);
});

afterAll(async () => {
  for (const bus of [worker, publisher, identity]) await bus?.close();
  await inspector?.close();
  await env?.cleanup();
});

describe("retries", () => {
  test("a handler that throws a retryable error gets the event again, in place, until it succeeds once", async () => {
    const ws = uuidv7();
    const deliveries: number[] = [];
    let applied = 0;
    await worker.consume({
      durable: "flaky",
      filter: `evt.${ws}.>`,
      backoffMs: 20,
      handler: async (m) => {
        deliveries.push(m.attempt);
        if (m.attempt < 3) throw new Error("database briefly unreachable");
        applied++;
      },
    });
    await publisher.publishEvent(agentCreated(ws, await claims.sign({ ws })));
    await vi.waitFor(() => expect(applied).toBe(1), { timeout: 5_000 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(deliveries).toEqual([1, 2, 3]);
    expect(applied).toBe(1);
    expect(await inspector.deadLetters("flaky")).toEqual([]);
    expect(await inspector.consumerState("flaky")).toEqual({ pending: 0, ackPending: 0 });
  });

  test("a retried event keeps its place: the events behind it wait and are applied in stream order", async () => {
    const ws = uuidv7();
    const applied: string[] = [];
    const events = await Promise.all([0, 1, 2].map(async () => agentCreated(ws, await claims.sign({ ws }))));
    let failures = 0;
    await worker.consume({
      durable: "ordered",
      filter: `evt.${ws}.>`,
      backoffMs: 20,
      handler: async (m) => {
        if (m.event.id === events[0]?.id && failures < 2) {
          failures++;
          throw new Error("database briefly unreachable");
        }
        applied.push(m.event.id);
      },
    });
    for (const event of events) await publisher.publishEvent(event);
    await vi.waitFor(() => expect(applied).toHaveLength(3), { timeout: 5_000 });
    expect(applied).toEqual(events.map((e) => e.id));
  });

  test("a handler that keeps failing has the event dead-lettered after maxDeliveries", async () => {
    const ws = uuidv7();
    let calls = 0;
    await worker.consume({
      durable: "always-down",
      filter: `evt.${ws}.>`,
      maxDeliveries: 3,
      backoffMs: 10,
      handler: async () => {
        calls++;
        throw new Error("still down");
      },
    });
    const event = agentCreated(ws, await claims.sign({ ws }));
    await publisher.publishEvent(event);
    const [dead] = await vi.waitFor(async () => {
      const found = await inspector.deadLetters("always-down");
      expect(found).toHaveLength(1);
      return found;
    }, { timeout: 5_000 });
    expect(dead?.subject).toBe(inspector.subject(`dlq.always-down.evt.${ws}.agent.created`));
    expect(dead?.header.get(HEADER.dlqDeliveries)).toBe("3");
    expect(dead?.header.get(HEADER.dlqError)).toBe("still down");
    expect(dead?.header.get(HEADER.dlqConsumer)).toBe("always-down");
    expect(decode(dead?.data ?? new Uint8Array())).toEqual(event.payload);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(calls).toBe(3);
    expect(await inspector.consumerState("always-down")).toEqual({ pending: 0, ackPending: 0 });
  });

  test("a handler's terminal error dead-letters the event at the first delivery", async () => {
    const ws = uuidv7();
    let calls = 0;
    await worker.consume({
      durable: "refuses",
      filter: `evt.${ws}.>`,
      handler: async () => {
        calls++;
        throw new ValidationError("the agent's config cannot be projected");
      },
    });
    await publisher.publishEvent(agentCreated(ws, await claims.sign({ ws })));
    const [dead] = await vi.waitFor(async () => {
      const found = await inspector.deadLetters("refuses");
      expect(found).toHaveLength(1);
      return found;
    }, { timeout: 5_000 });
    expect(dead?.header.get(HEADER.dlqDeliveries)).toBe("1");
    expect(dead?.header.get(HEADER.dlqError)).toBe("the agent's config cannot be projected");
    expect(calls).toBe(1);
  });

});
