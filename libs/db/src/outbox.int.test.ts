import { afterAll, beforeAll, describe, expect, inject, test, vi } from "vitest";
import type { Msg } from "@nats-io/transport-node";
import { v7 as uuidv7 } from "uuid";
import type { Bus } from "@galaxy/bus";
import { HEADER } from "@galaxy/contracts";
import { connectTestBus, createTestEnv, serviceDb, TestClaims, testLogger, type TestEnv, incomingTraceparent } from "@galaxy/testkit";
import type { Kysely } from "./connection";
import { appendEvent, OutboxRelay, type EventContext, type OutboxRow, type OutboxTable } from "./outbox";
import { inWorkspace } from "./workspace-tx";

interface Db {
  outbox: OutboxTable;
}

let env: TestEnv;
let claims: TestClaims;
/** identity's bus: it publishes identity's outbox and answers the JWKS. */
let bus: Bus;
/** A reader of the events, as another service would be. */
let reader: Bus;
let db: Kysely<Db>;
const logger = testLogger("identity");

beforeAll(async () => {
  env = await createTestEnv(inject("engines"));
  claims = await TestClaims.create();
  bus = await connectTestBus(env, "identity", { loadJwks: async () => claims.jwks });
  await claims.serve(bus);
  reader = await connectTestBus(env, "audit");
  db = serviceDb<Db>(env, "identity");
});

afterAll(async () => {
  await reader?.close();
  await bus?.close();
  await db?.destroy();
  await env?.cleanup();
});

async function context(ws: string): Promise<EventContext> {
  return { claim: await claims.sign({ ws }), traceparent: incomingTraceparent(), correlationId: uuidv7(), causationId: uuidv7() };
}

async function append(ws: string, count = 1): Promise<OutboxRow[]> {
  const ctx = await context(ws);
  return inWorkspace(db, ws, async (tx) => {
    const rows: OutboxRow[] = [];
    for (let i = 0; i < count; i++) {
      rows.push(
        await appendEvent(tx, {
          type: "agent.activated",
          workspaceId: ws,
          actor: { type: "user", id: uuidv7() },
          data: { agentId: uuidv7(), version: i + 1, status: "active", before: "draft" },
          context: ctx,
        }),
      );
    }
    return rows;
  });
}

async function outboxRow(ws: string, id: string): Promise<OutboxTable | undefined> {
  return inWorkspace(db, ws, (tx) => tx.selectFrom("outbox").selectAll().where("id", "=", id).executeTakeFirst());
}

/** Event ids a durable consumer of the workspace receives from `EVENTS`. */
async function storedEvents(ws: string): Promise<string[]> {
  const ids: string[] = [];
  await reader.consume({ durable: `reader-${ws.slice(-12)}`, filter: `evt.${ws}.>`, handler: async (m) => void ids.push(m.event.id) });
  return ids;
}

/** Every message published on the workspace's event subjects, with its headers. */
function watch(ws: string): Msg[] {
  const seen: Msg[] = [];
  bus.watch(`evt.${ws}.>`, (msg) => void seen.push(msg));
  return seen;
}

const relays: OutboxRelay[] = [];
function relay(publish: (row: OutboxRow) => Promise<void> = (row) => bus.publishEvent(row)): OutboxRelay {
  const r = new OutboxRelay({ db, publish, logger });
  relays.push(r);
  return r;
}

afterAll(async () => {
  await Promise.all(relays.map((r) => r.stop()));
});

describe("appendEvent", () => {
  test("writes the event, checked against the catalog, in the caller's transaction", async () => {
    const ws = uuidv7();
    const [row] = await append(ws);
    expect(row).toBeDefined();
    const stored = await outboxRow(ws, row?.id ?? "");
    expect(stored).toMatchObject({ id: row?.id, workspace_id: ws, type: "agent.activated", schema_version: 1, published_at: null });
    expect(stored?.payload).toEqual(row?.payload);
    expect(row?.payload).toMatchObject({ id: row?.id, type: "agent.activated", workspaceId: ws });
  });

  test("rejects data that does not match the catalog, and the transaction writes nothing", async () => {
    const ws = uuidv7();
    const ctx = await context(ws);
    const agentId = uuidv7();
    await expect(
      inWorkspace(db, ws, (tx) =>
        appendEvent(tx, { type: "agent.activated", workspaceId: ws, actor: { type: "user", id: "u" }, data: { agentId, version: 0, status: "active", before: "draft" }, context: ctx }),
      ),
    ).rejects.toThrow(/version/);
    const rows = await inWorkspace(db, ws, (tx) => tx.selectFrom("outbox").select("id").execute());
    expect(rows).toEqual([]);
  });

  test("cannot write an event of another workspace than the transaction's", async () => {
    const ws = uuidv7();
    const ctx = await context(ws);
    await expect(
      inWorkspace(db, uuidv7(), (tx) =>
        appendEvent(tx, { type: "agent.activated", workspaceId: ws, actor: { type: "user", id: "u" }, data: { agentId: uuidv7(), version: 1, status: "active", before: "draft" }, context: ctx }),
      ),
    ).rejects.toThrow(/row-level security/);
  });
});

describe("OutboxRelay", () => {
  test("publishNow puts the committed event on the bus with its id as Nats-Msg-Id, and marks it published", async () => {
    const ws = uuidv7();
    const seen = watch(ws);
    await bus.flush();
    const stored = await storedEvents(ws);
    const rows = await append(ws);
    const row = rows[0];
    relay().publishNow(rows);
    await vi.waitFor(() => expect(stored).toEqual([row?.id]), { timeout: 5_000 });
    expect(seen).toHaveLength(1);
    expect(seen[0]?.headers?.get(HEADER.msgId)).toBe(row?.id);
    expect(seen[0]?.headers?.get(HEADER.claim)).toBe(row?.context.claim);
    await vi.waitFor(async () => expect((await outboxRow(ws, row?.id ?? ""))?.published_at).toBeInstanceOf(Date));
  });

  test("events appended together are published in the order they were appended", async () => {
    const ws = uuidv7();
    const stored = await storedEvents(ws);
    const rows = await append(ws, 10);
    relay().publishNow(rows);
    await vi.waitFor(() => expect(stored).toHaveLength(10), { timeout: 5_000 });
    expect(stored).toEqual(rows.map((r) => r.id));
  });

  test("a row left unpublished by a failed publish is published by the sweep, once", async () => {
    const ws = uuidv7();
    const stored = await storedEvents(ws);
    let attempts = 0;
    const r = relay(async (row) => {
      attempts++;
      if (attempts === 1) throw new Error("the bus is down");
      await bus.publishEvent(row);
    });
    const [row] = await append(ws);
    r.publishNow(row ? [row] : []);
    await vi.waitFor(() => expect(attempts).toBe(1));
    await r.stop();
    expect((await outboxRow(ws, row?.id ?? ""))?.published_at).toBeNull();
    expect(stored).toEqual([]);

    await r.sweep(0);
    expect(attempts).toBeGreaterThanOrEqual(2);
    expect((await outboxRow(ws, row?.id ?? ""))?.published_at).toBeInstanceOf(Date);
    await vi.waitFor(() => expect(stored).toEqual([row?.id]), { timeout: 5_000 });

    // Once marked, a later sweep leaves it alone.
    const before = attempts;
    await r.sweep(0);
    expect(attempts).toBe(before);
  });

  test("the sweep leaves events younger than its age to publishNow", async () => {
    const ws = uuidv7();
    const published: string[] = [];
    const r = relay(async (row) => void published.push(row.id));
    const [row] = await append(ws);
    await r.sweep(60_000);
    expect(published).not.toContain(row?.id);
    expect((await outboxRow(ws, row?.id ?? ""))?.published_at).toBeNull();
    await r.sweep(0);
    expect(published).toContain(row?.id);
  });

  test("stop waits for the publishes under way", async () => {
    const ws = uuidv7();
    const r = relay(async (row) => {
      await new Promise((resolve) => setTimeout(resolve, 200));
      await bus.publishEvent(row);
    });
    const [row] = await append(ws);
    r.publishNow(row ? [row] : []);
    await r.stop();
    expect((await outboxRow(ws, row?.id ?? ""))?.published_at).toBeInstanceOf(Date);
  });
});
