import { describe, expect, vi } from "vitest";
import type { Msg } from "@nats-io/transport-node";
import { v7 as uuidv7 } from "uuid";
import type { Bus } from "@galaxy/bus";
import { HEADER } from "@galaxy/contracts";
import { createLogger } from "@galaxy/observability";
import { connectTestBus, serviceDb, testLogger, incomingTraceparent } from "@galaxy/testkit";
import { test as engineTest } from "@galaxy/testkit/fixtures";
import { sql, type Kysely } from "./connection";
import { appendEvent, OutboxRelay, type EventContext, type OutboxRow, type OutboxTable } from "./outbox";
import { inWorkspace } from "./workspace-tx";

interface Db {
  outbox: OutboxTable;
}

const logger = testLogger("identity");

/**
 * On the testkit's `env` and `claims` (whose identity stand-in answers the JWKS), each set up
 * once per file:
 * - `bus`: identity's bus, which publishes identity's outbox;
 * - `reader`: a reader of the events, as another service would be;
 * - `db`: identity's login role;
 * - `relay`: makes an outbox relay on `db` (publishing on `bus` unless told, with the options
 *   given); every relay made is stopped after the file's last test.
 */
const test = engineTest
  .extend("bus", { scope: "file" }, async ({ env, claims }, { onCleanup }): Promise<Bus> => {
    const bus = await connectTestBus(env, "identity", { loadJwks: async () => claims.jwks });
    onCleanup(() => bus.close());
    return bus;
  })
  .extend("reader", { scope: "file" }, async ({ env }, { onCleanup }): Promise<Bus> => {
    const reader = await connectTestBus(env, "audit");
    onCleanup(() => reader.close());
    return reader;
  })
  .extend("db", { scope: "file" }, async ({ env }, { onCleanup }): Promise<Kysely<Db>> => {
    const db = serviceDb<Db>(env, "identity");
    onCleanup(() => db.destroy());
    return db;
  })
  .extend("context", { scope: "file" }, async ({ claims }) => async (ws: string): Promise<EventContext> => ({
    claim: await claims.sign({ ws }),
    traceparent: incomingTraceparent(),
    correlationId: uuidv7(),
    causationId: uuidv7(),
  }))
  .extend("append", { scope: "file" }, async ({ db, context }) => async (ws: string, count = 1): Promise<OutboxRow[]> => {
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
  })
  .extend("outboxRow", { scope: "file" }, async ({ db }) => async (ws: string, id: string): Promise<OutboxTable | undefined> =>
    inWorkspace(db, ws, (tx) => tx.selectFrom("outbox").selectAll().where("id", "=", id).executeTakeFirst()))
  /** Event ids a durable consumer of the workspace receives from `EVENTS`. */
  .extend("storedEvents", { scope: "file" }, async ({ reader }) => async (ws: string): Promise<string[]> => {
    const ids: string[] = [];
    await reader.consume({ durable: `reader-${ws.slice(-12)}`, filter: `evt.${ws}.>`, handler: async (m) => void ids.push(m.event.id) });
    return ids;
  })
  /** Every message published on the workspace's event subjects, with its headers. */
  .extend("watch", { scope: "file" }, async ({ bus }) => (ws: string): Msg[] => {
    const seen: Msg[] = [];
    bus.watch(`evt.${ws}.>`, (msg) => void seen.push(msg));
    return seen;
  })
  .extend("relay", { scope: "file" }, async ({ db, bus }, { onCleanup }) => {
    const relays: OutboxRelay[] = [];
    onCleanup(async () => {
      await Promise.all(relays.map((r) => r.stop()));
    });
    return (publish: (row: OutboxRow) => Promise<void> = (row) => bus.publishEvent(row), options: { retainPublishedMs?: number } = {}): OutboxRelay => {
      const r = new OutboxRelay({ db, publish, logger, ...options });
      relays.push(r);
      return r;
    };
  });

describe("appendEvent", () => {
  test("writes the event, checked against the catalog, in the caller's transaction", async ({ append, outboxRow }) => {
    const ws = uuidv7();
    const [row] = await append(ws);
    expect(row).toBeDefined();
    const stored = await outboxRow(ws, row?.id ?? "");
    expect(stored).toMatchObject({ id: row?.id, workspace_id: ws, type: "agent.activated", schema_version: 1, published_at: null });
    expect(stored?.payload).toEqual(row?.payload);
    expect(row?.payload).toMatchObject({ id: row?.id, type: "agent.activated", workspaceId: ws });
  });

  test("rejects data that does not match the catalog, and the transaction writes nothing", async ({ db, context }) => {
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

  test("cannot write an event of another workspace than the transaction's", async ({ db, context }) => {
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
  test("publishNow puts the committed event on the bus with its id as Nats-Msg-Id, and marks it published", async ({ bus, append, outboxRow, storedEvents, watch, relay }) => {
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

  test("events appended together are published in the order they were appended", async ({ append, storedEvents, relay }) => {
    const ws = uuidv7();
    const stored = await storedEvents(ws);
    const rows = await append(ws, 10);
    relay().publishNow(rows);
    await vi.waitFor(() => expect(stored).toHaveLength(10), { timeout: 5_000 });
    expect(stored).toEqual(rows.map((r) => r.id));
  });

  test("a row left unpublished by a failed publish is published by the sweep, once", async ({ bus, append, outboxRow, storedEvents, relay }) => {
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

  test("a sweep that keeps failing the same way warns once, not at every sweep; another failure warns again", async ({ db, append }) => {
    const lines: Array<{ level: number; msg: string }> = [];
    const captured = createLogger({ service: "identity", level: "debug", destination: { write: (line: string) => void lines.push(JSON.parse(line)) } });
    let reason = "the server refuses this message";
    const r = new OutboxRelay({ db, logger: captured, publish: async () => Promise.reject(new Error(reason)) });
    try {
      await append(uuidv7());
      for (let i = 0; i < 3; i++) await r.sweep(0);
      reason = "the bus is down";
      await r.sweep(0);
    } finally {
      await r.stop();
    }
    const warnings = lines.filter((line) => line.level === 40).map((line) => line.msg);
    expect(warnings).toEqual(["outbox sweep failed; will retry", "outbox sweep failed; will retry"]);
    expect(lines.filter((line) => line.msg === "outbox sweep failed again; will retry")).toHaveLength(2);
  });

  test("the sweep leaves events younger than its age to publishNow", async ({ append, outboxRow, relay }) => {
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

  test("stop waits for the publishes under way", async ({ bus, append, outboxRow, relay }) => {
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

describe("the outbox's retention", () => {
  /** Writes `count` rows of the workspace made `agoMs` ago (their UUIDv7 ids say so), published or not. */
  async function writeRows(db: Kysely<Db>, ws: string, count: number, agoMs: number, published: boolean): Promise<string[]> {
    const madeAt = Date.now() - agoMs;
    const rows = Array.from({ length: count }, () => ({
      id: uuidv7({ msecs: madeAt }),
      workspace_id: ws,
      type: "agent.activated",
      schema_version: 1,
      payload: JSON.stringify({ made: madeAt }),
      context: JSON.stringify({ claim: "c", correlationId: "x", causationId: "x" }),
      created_at: new Date(madeAt),
      published_at: published ? new Date() : null,
    }));
    await inWorkspace(db, ws, (tx) => tx.insertInto("outbox").values(rows).execute());
    return rows.map((r) => r.id);
  }

  const ids = (db: Kysely<Db>, ws: string) => inWorkspace(db, ws, async (tx) => (await tx.selectFrom("outbox").select("id").orderBy("id").execute()).map((r) => r.id));

  test("every schema with an outbox has the prune function", async ({ db }) => {
    const found = await sql<{ schema: string }>`
      select n.nspname as schema from pg_proc p join pg_namespace n on n.oid = p.pronamespace
       where p.proname = 'outbox_prune' and p.prosecdef order by 1`.execute(db);
    expect(found.rows.map((r) => r.schema)).toEqual(["audit", "execution", "identity", "registry"]);
  });

  test("a sweep deletes published events older than the retention and keeps younger ones and every unpublished one", async ({ db, relay }) => {
    const ws = uuidv7();
    const oldPublished = await writeRows(db, ws, 3, 20 * 60_000, true);
    const oldUnpublished = await writeRows(db, ws, 2, 20 * 60_000, false);
    const youngPublished = await writeRows(db, ws, 2, 60_000, true);
    const r = relay(async () => undefined);
    await r.sweep(60 * 60_000);
    const left = await ids(db, ws);
    for (const id of oldPublished) expect(left).not.toContain(id);
    expect(left).toEqual([...oldUnpublished, ...youngPublished].sort());
  });

  test("prune deletes a batch per call and goes on until none is left, and answers how many", async ({ db, relay }) => {
    const ws = uuidv7();
    await writeRows(db, ws, 2_500, 30 * 60_000, true);
    const kept = await writeRows(db, ws, 1, 30 * 60_000, false);
    const r = relay(async () => undefined, { retainPublishedMs: 10 * 60_000 });
    expect(await r.prune()).toBeGreaterThanOrEqual(2_500);
    expect(await ids(db, ws)).toEqual(kept);
  });

  test("a shorter retention deletes younger rows", async ({ db, relay }) => {
    const ws = uuidv7();
    const published = await writeRows(db, ws, 2, 5_000, true);
    await relay(async () => undefined).prune();
    expect(await ids(db, ws)).toEqual(published.sort());
    await relay(async () => undefined, { retainPublishedMs: 1_000 }).prune();
    expect(await ids(db, ws)).toEqual([]);
  });
});
