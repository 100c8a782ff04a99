import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { z } from "zod";
import type { Bus, StoredEvent } from "@galaxy/bus";
import { parseEvent, type Agent, type EventActor, type EventData, type EventType, type Role, type TypedEvent } from "@galaxy/contracts";
import { createDb, sql, type Kysely } from "@galaxy/db";
import { connectTestBus, createTestEnv, serviceDb, testLogger, TestClaims, type TestEnv } from "@galaxy/testkit";
import { createAudit, type AuditService } from "../app";
import { GENESIS_HASH, GENESIS_HEAD, appendToChain, hashEntry, verifyChain, type HashedAuditEntry } from "../chain/chain";
import type { AuditDb } from "../db";
import { toHashedEntry } from "./audit-log.repository";
import { enterChain, insertEntriesAfter } from "../../test/support/chain-seed";

let env: TestEnv;
let claims: TestClaims;
let identityBus: Bus;
let auditBus: Bus;
let publisher: Bus;
let caller: Bus;
let db: Kysely<AuditDb>;
/** The bootstrap (superuser) connection: sees every workspace and may alter what it likes. */
let admin: Kysely<AuditDb>;
let audit: AuditService;

beforeAll(async () => {
  env = await createTestEnv(inject("engines"));
  claims = await TestClaims.create();
  identityBus = await connectTestBus(env, "identity");
  await claims.serve(identityBus);
  db = serviceDb<AuditDb>(env, "audit");
  auditBus = await connectTestBus(env, "audit");
  audit = createAudit({ db, bus: auditBus, logger: testLogger("audit"), retryBackoffMs: 50 });
  await audit.start();
  publisher = await connectTestBus(env, "agent-registry");
  caller = await connectTestBus(env, "gateway");
  admin = createDb<AuditDb>({ connectionString: env.databaseUrl, schema: "audit", max: 2 });
});

afterAll(async () => {
  await auditBus?.stopIntake();
  await audit?.stop();
  await Promise.all([auditBus?.close(), publisher?.close(), caller?.close(), identityBus?.close()]);
  await Promise.all([db?.destroy(), admin?.destroy()]);
  await env?.cleanup();
});

const USER = "0190a1b2-0000-7000-8000-0000000000aa";

function agentOf(workspaceId: string, name = "Support bot"): Agent {
  return {
    id: randomUUID(),
    workspaceId,
    name,
    description: null,
    provider: "openai",
    model: "galaxy-dev-echo",
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
    createdBy: USER,
    createdAt: "2025-01-02T03:04:05.678Z",
    updatedAt: "2025-01-02T03:04:05.678Z",
  };
}

interface PublishOptions {
  actor?: EventActor;
  occurredAt?: string;
  claim?: string;
  clientIp?: string;
  userAgent?: string;
  traceparent?: string;
}

/** An event as a service's outbox would store it, signed with a valid claim unless told. */
async function eventOf<T extends EventType>(workspaceId: string, type: T, data: EventData<T>, options: PublishOptions = {}): Promise<StoredEvent> {
  const id = randomUUID();
  const actor = options.actor ?? { type: "user", id: USER };
  return {
    id,
    workspaceId,
    type,
    schemaVersion: 1,
    payload: { id, type, occurredAt: options.occurredAt ?? new Date().toISOString(), workspaceId, actor, data },
    context: {
      claim: options.claim ?? (await claims.sign({ ws: workspaceId, sub: actor.id, act: actor.type, role: "admin" })),
      traceparent: options.traceparent ?? `00-${randomUUID().replaceAll("-", "")}-00f067aa0ba902b7-01`,
      correlationId: randomUUID(),
      causationId: randomUUID(),
      clientIp: options.clientIp,
      userAgent: options.userAgent,
    },
  };
}

function parsedEvent(event: StoredEvent): TypedEvent {
  const parsed = parseEvent(event.payload);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.event;
}

async function publish<T extends EventType>(workspaceId: string, type: T, data: EventData<T>, options: PublishOptions = {}): Promise<StoredEvent> {
  const event = await eventOf(workspaceId, type, data, options);
  await publisher.publishEvent(event);
  return event;
}

const agentCreated = (workspaceId: string, options: PublishOptions = {}, agent = agentOf(workspaceId)) =>
  publish(workspaceId, "agent.created", { agent }, options);

/** Every entry of the workspace in chain order, read past row-level security. */
/** Stores a made-up chain (or part of one) through the service's own insert, after whatever the workspace's chain ends with. */
async function storeChain(workspaceId: string, entries: readonly HashedAuditEntry[]): Promise<void> {
  const first = entries[0];
  if (!first) return;
  const inserted = await admin.transaction().execute((tx) => insertEntriesAfter(tx, workspaceId, first.prevHash, entries.map((entry) => ({ entry, streamSeq: 0 }))));
  if (inserted !== entries.length) throw new Error(`stored ${inserted} of ${entries.length} entries`);
}

async function rowsOf(workspaceId: string) {
  return admin.selectFrom("audit_logs").selectAll().where("workspace_id", "=", workspaceId).orderBy("seq").execute();
}

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const entriesOf = (workspaceId: string, count: number) => eventually(() => rowsOf(workspaceId), (rows) => rows.length >= count, `${count} entries`);

function chainOf(rows: Awaited<ReturnType<typeof rowsOf>>): HashedAuditEntry[] {
  return rows.map((row) => {
    const entry = toHashedEntry(row);
    if (!entry) throw new Error(`row ${row.seq} is not an entry`);
    return entry;
  });
}

async function listAs(workspaceId: string, role: Role, query: Record<string, unknown> = {}) {
  const claim = await claims.sign({ ws: workspaceId, role });
  return caller.request("audit.logs.list", query, { claim, workspaceId });
}

describe("the consumer", () => {
  test("appends each workspace's events to a chain of its own, seq 1..n in stream order", async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const a1 = await agentCreated(a);
    const b1 = await agentCreated(b);
    const a2 = await publish(a, "member.added", { userId: randomUUID(), email: "grace@example.com", role: "member" });
    const a3 = await agentCreated(a);
    const b2 = await agentCreated(b);

    const rowsA = await entriesOf(a, 3);
    const rowsB = await entriesOf(b, 2);
    expect(rowsA.map((r) => [r.seq, r.id])).toEqual([[1, a1.id], [2, a2.id], [3, a3.id]]);
    expect(rowsB.map((r) => [r.seq, r.id])).toEqual([[1, b1.id], [2, b2.id]]);
    expect(rowsA.map((r) => r.stream_seq)).toEqual([...rowsA.map((r) => r.stream_seq)].sort((x, y) => x - y));
    expect(rowsA[0]?.prev_hash).toBe(GENESIS_HASH);
    expect(rowsB[0]?.prev_hash).toBe(GENESIS_HASH);
    expect(rowsA[1]?.prev_hash).toBe(rowsA[0]?.hash);

    const chainA = chainOf(rowsA);
    expect(verifyChain(chainA, GENESIS_HEAD)).toEqual({ valid: true, entries: 3, head: { seq: 3, hash: rowsA[2]?.hash } });
    expect(verifyChain(chainOf(rowsB), GENESIS_HEAD)).toMatchObject({ valid: true, entries: 2 });
    expect(await audit.verifyWorkspace(a)).toEqual({ valid: true, entries: 3, head: { seq: 3, hash: rowsA[2]?.hash } });

    const payload = a1.payload;
    const agent = z.object({ agent: z.object({ id: z.string(), name: z.string() }) }).parse(payload.data).agent;
    expect(chainA[0]).toMatchObject({
      workspaceId: a,
      actor: { type: "user", id: USER },
      action: "agent.created",
      resourceType: "agent",
      resourceId: agent.id,
      changes: { before: null, after: { id: agent.id, name: agent.name } },
      occurredAt: payload.occurredAt,
    });
  });

  test("records where the request came from: client IP, user agent and trace", async () => {
    const ws = randomUUID();
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    await agentCreated(ws, { clientIp: "203.0.113.7", userAgent: "curl/8.5.0", traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    await agentCreated(ws);
    const [withOrigin, without] = await entriesOf(ws, 2);
    expect(withOrigin).toMatchObject({ ip_address: "203.0.113.7", user_agent: "curl/8.5.0", trace_id: traceId });
    expect(without).toMatchObject({ ip_address: null, user_agent: null });
    expect(without?.trace_id).toMatch(/^[0-9a-f]{32}$/);
  });

  test("keeps the event's time exactly as written, and a filterable copy of it", async () => {
    const ws = randomUUID();
    await agentCreated(ws, { occurredAt: "2025-06-01T12:00:00.123456+02:00" });
    const [row] = await entriesOf(ws, 1);
    expect(row?.occurred_at).toBe("2025-06-01T12:00:00.123456+02:00");
    expect(row?.occurred_at_ts.toISOString()).toBe("2025-06-01T10:00:00.123Z");
  });

  test("a redelivered or replayed event adds nothing", async () => {
    const ws = randomUUID();
    const original = await agentCreated(ws);
    const [first] = await entriesOf(ws, 1);
    // The same event under another Nats-Msg-Id, so JetStream's duplicate window lets it through.
    await publisher.publishEvent({ ...original, id: randomUUID() });
    await publisher.publishEvent({ ...original, id: randomUUID(), context: { ...original.context, clientIp: "198.51.100.9" } });
    const marker = await agentCreated(ws);
    const rows = await eventually(() => rowsOf(ws), (r) => r.some((row) => row.id === marker.id), "the marker");
    expect(rows.map((r) => [r.seq, r.id])).toEqual([[1, original.id], [2, marker.id]]);
    expect(rows[0]).toEqual(first);
    // Applied as a no-op, not refused: a refusal would have left a dead letter.
    expect(await deadLetters(`dlq.audit.evt.${ws}.agent.created`)).toEqual([]);
  });

  test("appending an event that is already recorded reports it and changes nothing", async () => {
    const ws = randomUUID();
    const event = await eventOf(ws, "agent.created", { agent: agentOf(ws) });
    const message = {
      event: parsedEvent(event),
      headers: { traceparent: event.context.traceparent, clientIp: undefined, userAgent: undefined },
      streamSeq: 1,
    };
    const first = await audit.log.append(message);
    expect(first).toMatchObject({ appended: true, entry: { seq: 1, id: event.id } });
    expect(await audit.log.append(message)).toEqual({ appended: false });
    expect(await audit.log.append({ ...message, streamSeq: 2 })).toEqual({ appended: false });
    expect((await rowsOf(ws)).map((r) => r.id)).toEqual([event.id]);
  });

  test("an event with a forged claim goes to dead letters and never becomes an entry", async () => {
    const ws = randomUUID();
    const valid = await claims.sign({ ws, sub: USER });
    const [header, body] = valid.split(".");
    const forged = await agentCreated(ws, { claim: `${header}.${body}.${Buffer.from("not a signature").toString("base64url")}` });
    const otherWorkspace = await agentCreated(ws, { claim: await claims.sign({ ws: randomUUID(), sub: USER }) });

    const letters = await eventually(() => deadLetters(`dlq.audit.evt.${ws}.agent.created`), (l) => l.length >= 2, "two dead letters");
    expect(letters.map((l) => [l.eventId, l.deliveries])).toEqual([[forged.id, "1"], [otherWorkspace.id, "1"]]);
    expect(letters[0]?.error).toMatch(/signature/);
    expect(letters[1]?.error).toMatch(/different workspaces/);

    // Each refusal is reported into the workspace it named (a security.forged_message event),
    // and those reports are entries; the forged events themselves never are.
    const marker = await agentCreated(ws);
    const rows = await entriesOf(ws, 3);
    expect(rows.map((r) => r.id)).toContain(marker.id);
    expect(rows.map((r) => r.id)).not.toContain(forged.id);
    expect(rows.map((r) => r.id)).not.toContain(otherWorkspace.id);
    expect(rows.filter((r) => r.action === "security.forged_message")).toHaveLength(2);
    expect(rows[0]?.prev_hash).toBe(GENESIS_HASH);
  });

  test("stores and verifies data that Postgres and canonical JSON cannot carry as is", async () => {
    const ws = randomUUID();
    await agentCreated(ws, {}, { ...agentOf(ws), systemPrompt: "nul\u0000 and a lone \ud800 surrogate" });
    const [row] = await entriesOf(ws, 1);
    expect(chainOf(row ? [row] : [])[0]?.changes?.after).toMatchObject({ systemPrompt: "nul\uFFFD and a lone \uFFFD surrogate" });
    expect(await audit.verifyWorkspace(ws)).toMatchObject({ valid: true, entries: 1 });
  });

  test("an event Postgres cannot store goes to dead letters at once, and the chain goes on", async () => {
    const ws = randomUUID();
    // A valid ISO time, but year 0 is outside what timestamptz accepts.
    const unstorable = await agentCreated(ws, { occurredAt: "0000-01-01T00:00:00Z" });
    const next = await agentCreated(ws);
    const rows = await entriesOf(ws, 1);
    expect(rows.map((r) => [r.seq, r.id])).toEqual([[1, next.id]]);
    const letters = await deadLetters(`dlq.audit.evt.${ws}.agent.created`);
    expect(letters).toEqual([{ eventId: unstorable.id, error: expect.stringMatching(/cannot be stored/), deliveries: "1" }]);
  });

  test("continues a chain from its retention checkpoint when no entry is left", async () => {
    const ws = randomUUID();
    const checkpointHash = "ab".repeat(32);
    await admin.insertInto("audit_checkpoints").values({ workspace_id: ws, seq: 41, hash: checkpointHash }).execute();
    const event = await agentCreated(ws);
    const [row] = await entriesOf(ws, 1);
    expect(row).toMatchObject({ id: event.id, seq: 42, prev_hash: checkpointHash });
    expect(await audit.verifyWorkspace(ws)).toEqual({ valid: true, entries: 1, head: { seq: 42, hash: row?.hash } });
  });

  test("a writer waits while another holds the workspace's chain", async () => {
    const ws = randomUUID();
    const event = await eventOf(ws, "agent.created", { agent: agentOf(ws) });
    let locked!: () => void;
    let release!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    const holder = admin.transaction().execute(async (tx) => {
      await enterChain(tx, ws);
      locked();
      await released;
    });
    await isLocked;
    let appended = false;
    const appending = audit.log
      .append({ event: parsedEvent(event), headers: { traceparent: event.context.traceparent, clientIp: undefined, userAgent: undefined }, streamSeq: 1 })
      .then(() => (appended = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(appended).toBe(false);
    release();
    await holder;
    await appending;
    expect((await rowsOf(ws)).map((r) => r.id)).toEqual([event.id]);
  });

  test("with two instances running, one consumes: the chain is unbroken and in stream order", async () => {
    const secondBus = await connectTestBus(env, "audit");
    const second = createAudit({ db, bus: secondBus, logger: testLogger("audit") });
    await second.start();
    try {
      const ws = randomUUID();
      const events = await Promise.all(Array.from({ length: 40 }, () => eventOf(ws, "agent.created", { agent: agentOf(ws) })));
      await Promise.all(events.map((event) => publisher.publishEvent(event)));
      const rows = await entriesOf(ws, 40);
      expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      // Two instances taking batches at once would commit them in either order.
      const streamSeqs = rows.map((r) => r.stream_seq);
      expect(streamSeqs).toEqual([...streamSeqs].sort((a, b) => a - b));
      expect(new Set(rows.map((r) => r.id))).toEqual(new Set(events.map((e) => e.id)));
      expect([audit.ingest.isLeader(), second.ingest.isLeader()]).toEqual([true, false]);
      expect(await audit.verifyWorkspace(ws)).toMatchObject({ valid: true, entries: 40 });
    } finally {
      await secondBus.stopIntake();
      await second.stop();
      await secondBus.close();
    }
  });
});

describe("audit.logs.list", () => {
  const ws = randomUUID();
  const other = randomUUID();
  const agent1 = agentOf(ws, "First");
  const agent2 = agentOf(ws, "Second");
  const memberId = randomUUID();
  const at = (second: number) => `2025-03-01T00:00:0${second}.000Z`;

  beforeAll(async () => {
    await agentCreated(ws, { occurredAt: at(1) }, agent1);
    await publish(ws, "agent.activated", { agentId: agent1.id, version: 1, status: "active", before: "draft" }, { occurredAt: at(2) });
    await publish(ws, "member.added", { userId: memberId, email: "grace@example.com", role: "member" }, { occurredAt: at(3), actor: { type: "user", id: "other-admin" } });
    await agentCreated(ws, { occurredAt: at(4), actor: { type: "api_key", id: "key-1" } }, agent2);
    await agentCreated(other, { occurredAt: at(1) });
    await entriesOf(ws, 4);
    await entriesOf(other, 1);
  });

  const seqs = (page: { items: Array<{ seq: number }> }) => page.items.map((item) => item.seq);

  test("an admin sees the workspace's entries, newest first", async () => {
    const page = await listAs(ws, "admin");
    expect(seqs(page)).toEqual([4, 3, 2, 1]);
    expect(page.pagination).toEqual({ total: 4, limit: 20, offset: 0, hasMore: false, nextCursor: null });
    expect(page.items[3]).toMatchObject({
      workspaceId: ws,
      actor: { type: "user", id: USER },
      action: "agent.created",
      resourceType: "agent",
      resourceId: agent1.id,
      changes: { before: null, after: { name: "First" } },
      occurredAt: at(1),
      prevHash: GENESIS_HASH,
    });
    expect(page.items[2]?.changes).toEqual({ before: { status: "draft" }, after: { status: "active" } });
    expect(page.items[3]?.hash).toBe(page.items[2]?.prevHash);
  });

  test("pages with limit and offset", async () => {
    const page = await listAs(ws, "owner", { limit: 2, offset: 1 });
    expect(seqs(page)).toEqual([3, 2]);
    expect(page.pagination).toEqual({ total: 4, limit: 2, offset: 1, hasMore: true, nextCursor: expect.any(String) });
    expect(seqs(await listAs(ws, "owner", { limit: 2, offset: 2 }))).toEqual([2, 1]);
  });

  test("filters by action, resource, actor and time", async () => {
    expect(seqs(await listAs(ws, "admin", { action: "agent.created" }))).toEqual([4, 1]);
    expect(seqs(await listAs(ws, "admin", { resourceType: "agent", resourceId: agent1.id }))).toEqual([2, 1]);
    expect(seqs(await listAs(ws, "admin", { resourceType: "member" }))).toEqual([3]);
    expect(seqs(await listAs(ws, "admin", { actorId: "key-1" }))).toEqual([4]);
    const window = await listAs(ws, "admin", { since: at(2), until: at(4) });
    expect(seqs(window)).toEqual([3, 2]);
    expect(window.pagination.total).toBe(2);
    expect(seqs(await listAs(ws, "admin", { action: "agent.created", since: at(2) }))).toEqual([4]);
  });

  test("viewers and members may not read it", async () => {
    await expect(listAs(ws, "viewer")).rejects.toMatchObject({ status: 403, code: "forbidden" });
    await expect(listAs(ws, "member")).rejects.toMatchObject({ status: 403, code: "forbidden" });
  });

  test("never shows another workspace's entries", async () => {
    const page = await listAs(other, "owner");
    expect(page.items.map((item) => item.workspaceId)).toEqual([other]);
    const probe = await listAs(other, "owner", { resourceId: agent1.id });
    expect(probe).toEqual({ items: [], pagination: { total: 0, limit: 20, offset: 0, hasMore: false, nextCursor: null } });
  });

  test("refuses a request without a claim, and bad filters", async () => {
    await expect(caller.request("audit.logs.list", {})).rejects.toMatchObject({ status: 401 });
    await expect(listAs(ws, "admin", { limit: 1000 })).rejects.toMatchObject({ status: 400, details: { limit: expect.any(String) } });
    await expect(listAs(ws, "admin", { since: "yesterday" })).rejects.toMatchObject({ status: 400, details: { since: expect.any(String) } });
  });
});

describe("verifyWorkspace", () => {
  test("names the first entry that was altered, reworked or removed", async () => {
    const ws = randomUUID();
    for (let i = 0; i < 4; i++) await agentCreated(ws);
    await entriesOf(ws, 4);
    expect(await audit.verifyWorkspace(ws)).toMatchObject({ valid: true, entries: 4 });

    const tamper = (seq: number) => admin.updateTable("audit_logs").where("workspace_id", "=", ws).where("seq", "=", seq);
    await tamper(2).set({ actor_id: "someone-else" }).execute();
    expect(await audit.verifyWorkspace(ws)).toEqual({ valid: false, entries: 1, firstBadSeq: 2, reason: "hash_mismatch" });

    // A tamperer who recomputes the altered entry's hash breaks the link to the next one.
    const [, second] = chainOf(await rowsOf(ws));
    if (!second) throw new Error("no second entry");
    await tamper(2).set({ hash: hashEntry(second) }).execute();
    expect(await audit.verifyWorkspace(ws)).toEqual({ valid: false, entries: 2, firstBadSeq: 3, reason: "prev_hash_mismatch" });

    await admin.deleteFrom("audit_logs").where("workspace_id", "=", ws).where("seq", "=", 2).execute();
    expect(await audit.verifyWorkspace(ws)).toEqual({ valid: false, entries: 1, firstBadSeq: 2, reason: "seq_gap" });
  });

  test("reads a long chain in pages and finds a change deep inside it", async () => {
    const ws = randomUUID();
    const entries = chainFor(ws, 2_500);
    await storeChain(ws, entries);
    const last = entries[entries.length - 1];
    expect(await audit.verifyWorkspace(ws)).toEqual({ valid: true, entries: 2_500, head: { seq: 2_500, hash: last?.hash } });

    await sql`update audit.audit_logs set changes = '{"before": null, "after": {"n": -1}}' where workspace_id = ${ws} and seq = 1500`.execute(admin);
    expect(await audit.verifyWorkspace(ws)).toEqual({ valid: false, entries: 1_499, firstBadSeq: 1_500, reason: "hash_mismatch" });
  });

  test("starts from the retention checkpoint, which must match the first entry kept", async () => {
    const ws = randomUUID();
    const entries = chainFor(ws, 5);
    const removed = entries[1];
    if (!removed) throw new Error("no entry 2");
    await admin.insertInto("audit_checkpoints").values({ workspace_id: ws, seq: 2, hash: removed.hash }).execute();
    await storeChain(ws, entries.slice(2));
    expect(await audit.verifyWorkspace(ws)).toEqual({ valid: true, entries: 3, head: { seq: 5, hash: entries[4]?.hash } });

    await admin.deleteFrom("audit_checkpoints").where("workspace_id", "=", ws).execute();
    await admin.insertInto("audit_checkpoints").values({ workspace_id: ws, seq: 2, hash: "cd".repeat(32) }).execute();
    expect(await audit.verifyWorkspace(ws)).toEqual({ valid: false, entries: 0, firstBadSeq: 3, reason: "prev_hash_mismatch" });
  });

  test("reports a row altered into something no entry holds as altered", async () => {
    const ws = randomUUID();
    await storeChain(ws, chainFor(ws, 3));
    await sql`update audit.audit_logs set changes = '{"note": "rewritten"}' where workspace_id = ${ws} and seq = 2`.execute(admin);
    expect(await audit.verifyWorkspace(ws)).toEqual({ valid: false, entries: 1, firstBadSeq: 2, reason: "hash_mismatch" });
  });

  test("an empty workspace's chain is valid and ends at genesis", async () => {
    expect(await audit.verifyWorkspace(randomUUID())).toEqual({ valid: true, entries: 0, head: GENESIS_HEAD });
  });
});

function chainFor(workspaceId: string, length: number): HashedAuditEntry[] {
  const entries: HashedAuditEntry[] = [];
  let head = GENESIS_HEAD;
  for (let n = 1; n <= length; n++) {
    const entry = appendToChain(head, {
      id: randomUUID(),
      workspaceId,
      actor: { type: "service", id: "execution-worker" },
      action: "execution.completed",
      resourceType: "execution",
      resourceId: `execution-${n}`,
      changes: { before: { status: "running" }, after: { status: "completed", n } },
      ipAddress: null,
      userAgent: null,
      traceId: null,
      occurredAt: new Date(Date.UTC(2025, 0, 1, 0, 0, 0, n)).toISOString(),
    });
    entries.push(entry);
    head = { seq: entry.seq, hash: entry.hash };
  }
  return entries;
}

const StreamMessage = z.object({
  message: z.object({ subject: z.string(), seq: z.number(), data: z.string().optional(), hdrs: z.string().optional() }).optional(),
  error: z.object({ code: z.number() }).optional(),
});

/** The dead letters on one subject of the test's DEAD_LETTERS stream, through the JetStream API. */
async function deadLetters(subject: string): Promise<Array<{ eventId: string; error: string; deliveries: string }>> {
  const stream = publisher.stream("DEAD_LETTERS");
  const letters: Array<{ eventId: string; error: string; deliveries: string }> = [];
  for (let seq = 1; ; ) {
    const reply = await publisher.rawRequest(`$JS.API.STREAM.MSG.GET.${stream}`, JSON.stringify({ seq, next_by_subj: publisher.subject(subject) }));
    const parsed = StreamMessage.parse(JSON.parse(new TextDecoder().decode(reply.data)));
    if (!parsed.message) return letters;
    const payload = z.object({ id: z.string() }).parse(JSON.parse(Buffer.from(parsed.message.data ?? "", "base64").toString("utf8")));
    const headers = Buffer.from(parsed.message.hdrs ?? "", "base64").toString("utf8");
    const header = (name: string) => new RegExp(`^${name}: (.*?)\\r?$`, "im").exec(headers)?.[1] ?? "";
    letters.push({ eventId: payload.id, error: header("Gx-Dlq-Error"), deliveries: header("Gx-Dlq-Deliveries") });
    seq = parsed.message.seq + 1;
  }
}
