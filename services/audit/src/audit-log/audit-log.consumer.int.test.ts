import { randomUUID } from "node:crypto";
import { describe, expect } from "vitest";
import { z } from "zod";
import { connectTestBus, testLogger } from "@galaxy/testkit";
import { createAudit } from "../app";
import { GENESIS_HASH, GENESIS_HEAD, verifyChain } from "../chain/chain";
import { agentOf, chainOf, eventually, parsedEvent, USER } from "../../test/support/audit-events";
import { test } from "../../test/support/audit-log-fixtures";
import { enterChain } from "../../test/support/chain-seed";

/** The audit log's consumer: events in, one hash chain per workspace out. */
describe("the consumer", () => {
  test("appends each workspace's events to a chain of its own, seq 1..n in stream order", async ({ publish, agentCreated, entriesOf, audit }) => {
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

  test("records where the request came from: client IP, user agent and trace", async ({ agentCreated, entriesOf }) => {
    const ws = randomUUID();
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    await agentCreated(ws, { clientIp: "203.0.113.7", userAgent: "curl/8.5.0", traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    await agentCreated(ws);
    const [withOrigin, without] = await entriesOf(ws, 2);
    expect(withOrigin).toMatchObject({ ip_address: "203.0.113.7", user_agent: "curl/8.5.0", trace_id: traceId });
    expect(without).toMatchObject({ ip_address: null, user_agent: null });
    expect(without?.trace_id).toMatch(/^[0-9a-f]{32}$/);
  });

  test("keeps the event's time exactly as written, and a filterable copy of it", async ({ agentCreated, entriesOf }) => {
    const ws = randomUUID();
    await agentCreated(ws, { occurredAt: "2025-06-01T12:00:00.123456+02:00" });
    const [row] = await entriesOf(ws, 1);
    expect(row?.occurred_at).toBe("2025-06-01T12:00:00.123456+02:00");
    expect(row?.occurred_at_ts.toISOString()).toBe("2025-06-01T10:00:00.123Z");
  });

  test("a redelivered or replayed event adds nothing", async ({ agentCreated, rowsOf, entriesOf, deadLetters, publisher }) => {
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

  test("appending an event that is already recorded reports it and changes nothing", async ({ eventOf, rowsOf, audit }) => {
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

  test("an event with a forged claim goes to dead letters and never becomes an entry", async ({ agentCreated, entriesOf, deadLetters, claims }) => {
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

  test("stores and verifies data that Postgres and canonical JSON cannot carry as is", async ({ agentCreated, entriesOf, audit }) => {
    const ws = randomUUID();
    await agentCreated(ws, {}, { ...agentOf(ws), systemPrompt: "nul\u0000 and a lone \ud800 surrogate" });
    const [row] = await entriesOf(ws, 1);
    expect(chainOf(row ? [row] : [])[0]?.changes?.after).toMatchObject({ systemPrompt: "nul\uFFFD and a lone \uFFFD surrogate" });
    expect(await audit.verifyWorkspace(ws)).toMatchObject({ valid: true, entries: 1 });
  });

  test("an event Postgres cannot store goes to dead letters at once, and the chain goes on", async ({ agentCreated, entriesOf, deadLetters }) => {
    const ws = randomUUID();
    // A valid ISO time, but year 0 is outside what timestamptz accepts.
    const unstorable = await agentCreated(ws, { occurredAt: "0000-01-01T00:00:00Z" });
    const next = await agentCreated(ws);
    const rows = await entriesOf(ws, 1);
    expect(rows.map((r) => [r.seq, r.id])).toEqual([[1, next.id]]);
    const letters = await deadLetters(`dlq.audit.evt.${ws}.agent.created`);
    expect(letters).toEqual([{ eventId: unstorable.id, error: expect.stringMatching(/cannot be stored/), deliveries: "1" }]);
  });

  test("continues a chain from its retention checkpoint when no entry is left", async ({ agentCreated, entriesOf, admin, audit }) => {
    const ws = randomUUID();
    const checkpointHash = "ab".repeat(32);
    await admin.insertInto("audit_checkpoints").values({ workspace_id: ws, seq: 41, hash: checkpointHash }).execute();
    const event = await agentCreated(ws);
    const [row] = await entriesOf(ws, 1);
    expect(row).toMatchObject({ id: event.id, seq: 42, prev_hash: checkpointHash });
    expect(await audit.verifyWorkspace(ws)).toEqual({ valid: true, entries: 1, head: { seq: 42, hash: row?.hash } });
  });

  test("a writer waits while another holds the workspace's chain", async ({ eventOf, rowsOf, admin, audit }) => {
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

  test("with two instances running, one consumes: the chain is unbroken and in stream order", async ({ eventOf, entriesOf, db, audit, publisher, env }) => {
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
