import { describe, expect, vi } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { HEADER, UnavailableError, ValidationError } from "@galaxy/contracts";
import { createDb, sql } from "@galaxy/db";
import { Registry } from "@galaxy/observability";
import { freePort } from "@galaxy/testkit";
import { busTest } from "../test/fixtures";
import { agentCreated, decode } from "../test/support";

/** How a consumer retries a failing handler, and when it gives a message up (docs/bus.md, "Retry policy"). */

/** The worker's metrics: what its consumers count of retries and dead letters. */
const metrics = new Registry();

/** `downDb`: a database nobody runs: every query is refused, as while Postgres is down. */
const test = busTest
  .extend("publisher", { scope: "file" }, async ({ connect }) => connect("agent-registry"))
  .extend("worker", { scope: "file" }, async ({ connect }) => connect("execution-worker", { metrics }))
  .extend("downDb", { scope: "file" }, async ({}, { onCleanup }) => {
    const downDb = createDb<unknown>({ connectionString: `postgres://postgres@127.0.0.1:${await freePort()}/galaxy`, max: 1 });
    onCleanup(() => downDb.destroy());
    return downDb;
  });

/** A metric's value for one consumer (and cause), 0 when it has none yet. */
async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const values = (await metrics.getSingleMetric(name)?.get())?.values ?? [];
  return values.find((v) => Object.entries(labels).every(([key, value]) => v.labels[key] === value))?.value ?? 0;
}

describe("transient failures: waited out, in place, for as long as they last", () => {
  test("a handler failing 20 times in a row on a refused database connection, beyond any budget, applies the event once, in order, with nothing dead-lettered or redelivered", async ({ claims, publisher, worker, inspector, downDb }) => {
    const ws = uuidv7();
    const claim = await claims.sign({ ws });
    const events = [agentCreated(ws, claim), agentCreated(ws, claim), agentCreated(ws, claim)];
    const first = events[0];
    if (!first) throw new Error("no events");
    const applied: Array<{ id: string; attempt: number; deliveryCount: number }> = [];
    const refusals: unknown[] = [];
    let gaugeWhenBack = -1;
    let lagDuringOutage = -1;
    await worker.consume({
      durable: "outage",
      filter: `evt.${ws}.>`,
      // A budget of 2 for unknown failures, and 20 failures of a second ack wait's worth: the
      // outage outlasts both, and neither applies to it.
      maxDeliveries: 2,
      backoffMs: 10,
      maxBackoffMs: 150,
      ackWaitMs: 1_000,
      handler: async (m) => {
        if (m.event.id === first.id && refusals.length < 20) {
          try {
            await sql`select 1`.execute(downDb);
          } catch (error) {
            refusals.push(error);
            if (refusals.length === 10) lagDuringOutage = await metric("galaxy_bus_consumer_lag", { consumer: "outage" });
            throw error;
          }
        }
        if (m.event.id === first.id) gaugeWhenBack = await metric("galaxy_bus_consumer_transient_failures", { consumer: "outage" });
        applied.push({ id: m.event.id, attempt: m.attempt, deliveryCount: m.deliveryCount });
      },
    });
    for (const event of events) await publisher.publishEvent(event);
    await vi.waitFor(async () => expect(await inspector.consumerState("outage")).toEqual({ pending: 0, ackPending: 0 }), { timeout: 20_000 });
    expect(refusals).toHaveLength(20);
    expect(refusals.every((error) => error instanceof Error && "code" in error && error.code === "ECONNREFUSED")).toBe(true);
    expect(applied).toEqual([
      { id: first.id, attempt: 21, deliveryCount: 1 },
      { id: events[1]?.id, attempt: 1, deliveryCount: 1 },
      { id: events[2]?.id, attempt: 1, deliveryCount: 1 },
    ]);
    expect(await inspector.deadLetters("outage")).toEqual([]);
    expect(await inspector.redelivered("outage")).toBe(0);
    expect(gaugeWhenBack).toBe(20);
    // The lag an operator sees: the event in hand and the two waiting behind it.
    expect(lagDuringOutage).toBe(3);
    expect(await metric("galaxy_bus_consumer_lag", { consumer: "outage" })).toBe(0);
    expect(await metric("galaxy_bus_consumer_transient_failures", { consumer: "outage" })).toBe(0);
    expect(await metric("galaxy_bus_consumer_redeliveries_total", { consumer: "outage" })).toBe(20);
    expect(await metric("galaxy_bus_dead_letters_total", { consumer: "outage" })).toBe(0);
  });

  test("transient failures do not use up the budget of unknown ones", async ({ claims, publisher, worker, inspector }) => {
    const ws = uuidv7();
    const outcomes: Array<Error | null> = [new UnavailableError("identity did not answer"), new TypeError("a bug, once"), new UnavailableError("identity did not answer"), new UnavailableError("identity did not answer"), null];
    const attempts: number[] = [];
    await worker.consume({
      durable: "mixed",
      filter: `evt.${ws}.>`,
      maxDeliveries: 2,
      backoffMs: 5,
      handler: async (m) => {
        attempts.push(m.attempt);
        const outcome = outcomes[m.attempt - 1];
        if (outcome) throw outcome;
      },
    });
    await publisher.publishEvent(agentCreated(ws, await claims.sign({ ws })));
    await vi.waitFor(() => expect(attempts).toEqual([1, 2, 3, 4, 5]), { timeout: 5_000 });
    await vi.waitFor(async () => expect(await inspector.consumerState("mixed")).toEqual({ pending: 0, ackPending: 0 }));
    expect(await inspector.deadLetters("mixed")).toEqual([]);
  });
});

describe("unknown and terminal failures", () => {
  test("a handler that fails a few times gets the event again, in place, until it succeeds once", async ({ claims, publisher, worker, inspector }) => {
    const ws = uuidv7();
    const deliveries: number[] = [];
    let applied = 0;
    await worker.consume({
      durable: "flaky",
      filter: `evt.${ws}.>`,
      backoffMs: 20,
      handler: async (m) => {
        deliveries.push(m.attempt);
        if (m.attempt < 3) throw new UnavailableError("database briefly unreachable");
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

  test("a retried event keeps its place: the events behind it wait and are applied in stream order", async ({ claims, publisher, worker }) => {
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
          throw new TypeError("a bug that goes away");
        }
        applied.push(m.event.id);
      },
    });
    for (const event of events) await publisher.publishEvent(event);
    await vi.waitFor(() => expect(applied).toHaveLength(3), { timeout: 5_000 });
    expect(applied).toEqual(events.map((e) => e.id));
  });

  test("an unknown error (a bug) that keeps failing has the event dead-lettered after its budget, maxDeliveries", async ({ claims, publisher, worker, inspector }) => {
    const ws = uuidv7();
    let calls = 0;
    await worker.consume({
      durable: "always-down",
      filter: `evt.${ws}.>`,
      maxDeliveries: 3,
      backoffMs: 10,
      handler: async () => {
        calls++;
        throw new TypeError("still broken");
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
    expect(dead?.header.get(HEADER.dlqError)).toBe("still broken");
    expect(dead?.header.get(HEADER.dlqConsumer)).toBe("always-down");
    expect(decode(dead?.data ?? new Uint8Array())).toEqual(event.payload);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(calls).toBe(3);
    expect(await inspector.consumerState("always-down")).toEqual({ pending: 0, ackPending: 0 });
    expect(await metric("galaxy_bus_dead_letters_total", { consumer: "always-down", cause: "unknown" })).toBe(1);
  });

  test("a handler's terminal error dead-letters the event at the first delivery", async ({ claims, publisher, worker, inspector }) => {
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
    expect(await metric("galaxy_bus_dead_letters_total", { consumer: "refuses", cause: "terminal" })).toBe(1);
  });
});
