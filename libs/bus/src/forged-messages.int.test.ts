import { describe, expect, vi } from "vitest";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { v5 as uuidv5, v7 as uuidv7 } from "uuid";
import { EventEnvelope, ForgedMessage, HEADER, SYSTEM_WORKSPACE_ID, type Agent } from "@galaxy/contracts";
import { connectTestBus, TestClaims, incomingTraceparent } from "@galaxy/testkit";
import { busTest } from "../test/fixtures";
import type { StreamInspector } from "../test/support";
import type { Bus } from "./bus";

/** A `security.forged_message` event as it went over the wire. */
interface Report {
  subject: string;
  header: (name: string) => string | undefined;
  event: EventEnvelope;
  data: ForgedMessage;
}

/**
 * - `consumerBus`: audit's bus, whose consumers check and report; `watcher`: a bus that watches reports;
 * - `reports`: every `security.forged_message` the watcher saw since the file started (auto);
 * - `reportsOf`, `publishRaw`, `consumer`: the helpers below, on those.
 * The inspector (busTest) is the test's own connection: JetStream's API, and raw publishes as a
 * stranger on the bus would make them.
 */
const test = busTest
  .extend("consumerBus", { scope: "file" }, async ({ connect }) => connect("audit"))
  .extend("watcher", { scope: "file" }, async ({ connect }) => connect("observer"))
  .extend("reports", { scope: "file", auto: true }, async ({ watcher }) => {
    const reports: Report[] = [];
    const decoder = new TextDecoder();
    watcher.watch("evt.*.security.forged_message", (msg) => {
      const event = EventEnvelope.parse(JSON.parse(decoder.decode(msg.data)));
      const headers = msg.headers;
      reports.push({ subject: watcher.unprefixed(msg.subject), header: (name) => headers?.get(name) || undefined, event, data: ForgedMessage.parse(event.data) });
    });
    await watcher.flush();
    return reports;
  })
  .extend("reportsOf", async ({ reports }) => (messageId: string) => reports.filter((r) => r.data.messageId === messageId))
  .extend("publishRaw", async ({ inspector }) => (subjectWs: string, options: RawOptions = {}) => publishRaw(inspector, subjectWs, options))
  .extend("consumer", async ({ consumerBus }) => (durable: string, filter: string, bus: Bus = consumerBus) => consumer(bus, durable, filter));

function agent(workspaceId: string): Agent {
  const now = new Date().toISOString();
  return {
    id: uuidv7(), workspaceId, status: "draft", version: 1, createdBy: uuidv7(), createdAt: now, updatedAt: now, name: "Forged", description: null,
    provider: "openai", model: "galaxy-dev-echo", systemPrompt: "", temperature: null, maxTokens: null, tools: [], knowledgeBaseIds: [],
    inputSchema: null, outputSchema: null, timeoutMs: null, notifyUrl: null,
  };
}

/** What `publishRaw` puts on a message: its claim, workspace header (`null`: none), payload workspace, type and data. */
interface RawOptions {
  claim?: string;
  headerWs?: string | null;
  payloadWs?: string;
  type?: string;
  data?: unknown;
}

/**
 * Publishes an `agent.created` straight to JetStream, as a stranger on the bus would: a valid
 * payload, with whatever claim and workspace header it is given, naming `payloadWs` (the
 * subject's workspace unless given) in its `workspaceId`. Returns the payload's id; `lastSeq`
 * is its place in the stream.
 */
let lastSeq = 0;
async function publishRaw(inspector: StreamInspector, subjectWs: string, options: RawOptions): Promise<string> {
  const id = uuidv7();
  const type = options.type ?? "agent.created";
  const h = natsHeaders();
  if (options.headerWs !== null) h.set(HEADER.workspaceId, options.headerWs ?? subjectWs);
  if (options.claim) h.set(HEADER.claim, options.claim);
  h.set(HEADER.traceparent, incomingTraceparent());
  h.set(HEADER.eventType, type);
  h.set(HEADER.schemaVersion, "1");
  const payloadWs = options.payloadWs ?? subjectWs;
  const payload = { id, type, occurredAt: new Date().toISOString(), workspaceId: payloadWs, actor: { type: "user", id: uuidv7() }, data: options.data ?? { agent: agent(payloadWs) } };
  const ack = await inspector.js.publish(inspector.subject(`evt.${subjectWs}.${type}`), JSON.stringify(payload), { msgID: id, headers: h });
  lastSeq = ack.seq;
  return id;
}

/** Consumes `filter` under `durable` on `bus`, collecting the ids of the events its handler was given. */
async function consumer(bus: Bus, durable: string, filter: string): Promise<string[]> {
  const applied: string[] = [];
  await bus.consume({ durable, filter, handler: async (m) => void applied.push(m.event.id) });
  return applied;
}

describe("a message that fails its claim or workspace checks", () => {
  test.for([
    ["a claim signed by a key identity does not publish", "forged-key", async (ws: string) => (await TestClaims.create()).sign({ ws }), /^forged_claim:(unknown_key|bad_signature)$/],
    ["a claim for another workspace", "claim-elsewhere", async (_ws: string, claims: TestClaims) => claims.sign({ ws: uuidv7() }), /^workspace_mismatch$/],
    ["no claim at all", "no-claim", async () => undefined, /^forged_claim:missing$/],
  ] as const)("%s: dead-lettered, never applied, and reported as security.forged_message in the workspace it named", async ([_what, durable, claimFor, reason], { claims, watcher, inspector, reportsOf, publishRaw, consumer }) => {
    const ws = uuidv7();
    const applied = await consumer(durable, `evt.${ws}.agent.>`);
    const claim = await claimFor(ws, claims);
    const forgedId = await publishRaw(ws, claim ? { claim } : {});
    const forgedSeq = lastSeq;
    // A valid event behind it: the consumer moves on.
    const goodId = await publishRaw(ws, { claim: await claims.sign({ ws }) });
    await vi.waitFor(() => expect(applied).toEqual([goodId]), { timeout: 10_000 });

    const [letter] = await inspector.deadLetters(durable);
    expect(letter?.subject).toBe(watcher.subject(`dlq.${durable}.evt.${ws}.agent.created`));
    const [report] = await vi.waitFor(() => {
      const found = reportsOf(forgedId);
      expect(found).toHaveLength(1);
      return found;
    }, { timeout: 5_000 });
    expect(report?.subject).toBe(`evt.${ws}.security.forged_message`);
    expect(report?.event.workspaceId).toBe(ws);
    expect(report?.event.actor).toEqual({ type: "service", id: "audit" });
    expect(report?.data).toMatchObject({ consumer: durable, subject: `evt.${ws}.agent.created`, messageId: forgedId, claimedWorkspaceId: ws });
    expect(report?.data.reason).toMatch(reason);
    // Every header of docs/bus.md, with an id fixed by consumer, stream and sequence.
    // A redelivery, or a second instance of the consumer, reports the same event id, which JetStream and audit keep once.
    expect(report?.event.id).toBe(uuidv5(`${durable}:${watcher.stream("EVENTS")}:${forgedSeq}`, "6f1d3c52-8a4e-4c1b-9b7e-2f0c5d8a9e31"));
    expect(report?.header(HEADER.msgId)).toBe(report?.event.id);
    expect(report?.header(HEADER.workspaceId)).toBe(ws);
    expect(report?.header(HEADER.eventType)).toBe("security.forged_message");
    expect(report?.header(HEADER.schemaVersion)).toBe("1");
    expect(report?.header(HEADER.traceparent)).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(report?.header(HEADER.correlationId)).toBeTruthy();
    expect(report?.header(HEADER.causationId)).toBe(forgedId);
    // The report's own claim is a service claim for that workspace, and verifies.
    const reportClaim = await watcher.claims.verify(report?.header(HEADER.claim), { checkExpiry: true });
    expect(reportClaim).toMatchObject({ ws, act: "service", sub: "audit" });
  });

  test("a genuine claim, header and subject of one workspace on a payload naming another: dead-lettered, never applied, reported where the message was sent", async ({ claims, watcher, inspector, reports, reportsOf, publishRaw, consumer }) => {
    const ws = uuidv7();
    const elsewhere = uuidv7();
    const applied = await consumer("payload-elsewhere", `evt.${ws}.agent.>`);
    // Everything a consumer checks first agrees on ws: only the payload's workspaceId differs.
    const forgedId = await publishRaw(ws, { claim: await claims.sign({ ws }), payloadWs: elsewhere });
    const forgedSeq = lastSeq;
    const goodId = await publishRaw(ws, { claim: await claims.sign({ ws }) });
    await vi.waitFor(() => expect(applied).toEqual([goodId]), { timeout: 10_000 });

    const letters = await inspector.deadLetters("payload-elsewhere");
    expect(letters.map((m) => m.subject)).toEqual([watcher.subject(`dlq.payload-elsewhere.evt.${ws}.agent.created`)]);
    expect(letters[0]?.header.get(HEADER.dlqError)).toMatch(/different workspaces/);
    expect(EventEnvelope.parse(letters[0]?.json())).toMatchObject({ id: forgedId, workspaceId: elsewhere });

    const [report] = await vi.waitFor(() => {
      const found = reportsOf(forgedId);
      expect(found).toHaveLength(1);
      return found;
    }, { timeout: 5_000 });
    expect(report?.subject).toBe(`evt.${ws}.security.forged_message`);
    expect(report?.event.workspaceId).toBe(ws);
    expect(report?.event.actor).toEqual({ type: "service", id: "audit" });
    expect(report?.event.id).toBe(uuidv5(`payload-elsewhere:${watcher.stream("EVENTS")}:${forgedSeq}`, "6f1d3c52-8a4e-4c1b-9b7e-2f0c5d8a9e31"));
    expect(report?.data).toEqual({ consumer: "payload-elsewhere", subject: `evt.${ws}.agent.created`, reason: "workspace_mismatch", messageId: forgedId, claimedWorkspaceId: ws });
    const reportClaim = await watcher.claims.verify(report?.header(HEADER.claim), { checkExpiry: true });
    expect(reportClaim).toMatchObject({ ws, act: "service", sub: "audit" });
    // The workspace the payload named is told nothing.
    expect(reports.filter((r) => r.event.workspaceId === elsewhere)).toEqual([]);
  });

  test("a report verifies where every consumer checks it: a consumer of the whole workspace applies it", async ({ inspector, reportsOf, publishRaw, consumer }) => {
    const ws = uuidv7();
    const applied = await consumer("whole-workspace", `evt.${ws}.>`);
    const forgedId = await publishRaw(ws, { claim: await (await TestClaims.create()).sign({ ws }) });
    const [report] = await vi.waitFor(() => {
      const found = reportsOf(forgedId);
      expect(found).toHaveLength(1);
      return found;
    }, { timeout: 5_000 });
    await vi.waitFor(() => expect(applied).toEqual([report?.event.id]), { timeout: 5_000 });
    expect(await inspector.deadLetters("whole-workspace")).toHaveLength(1);
  });

  test("a message that names no valid workspace is reported in the system workspace", async ({ watcher, inspector, reportsOf, consumer }) => {
    const tag = `nows${Date.now()}`;
    await consumer("no-workspace", `evt.${tag}.>`);
    const id = uuidv7();
    await inspector.js.publish(watcher.subject(`evt.${tag}.agent.created`), JSON.stringify({ id }), { msgID: id });
    const [report] = await vi.waitFor(() => {
      const found = reportsOf(id);
      expect(found).toHaveLength(1);
      return found;
    }, { timeout: 5_000 });
    expect(report?.subject).toBe(`evt.${SYSTEM_WORKSPACE_ID}.security.forged_message`);
    expect(report?.data).toMatchObject({ reason: "bad_subject", subject: `evt.${tag}.agent.created`, claimedWorkspaceId: null });
  });

  test("a forged report is itself dead-lettered and reported once; its report verifies, so nothing more follows", async ({ inspector, reports, reportsOf, publishRaw, consumer }) => {
    const ws = uuidv7();
    const applied = await consumer("forged-report", `evt.${ws}.>`);
    const forgedId = await publishRaw(ws, {
      type: "security.forged_message",
      claim: await (await TestClaims.create()).sign({ ws }),
      data: { consumer: "audit", subject: "evt.x.y.z", reason: "forged_claim:missing", messageId: null, claimedWorkspaceId: null },
    });
    const [report] = await vi.waitFor(() => {
      const found = reportsOf(forgedId);
      expect(found).toHaveLength(1);
      return found;
    }, { timeout: 5_000 });
    await vi.waitFor(() => expect(applied).toEqual([report?.event.id]), { timeout: 5_000 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await inspector.deadLetters("forged-report")).toHaveLength(1);
    // The watcher saw the forged report itself, and one report of it: nothing more.
    expect(reports.filter((r) => r.event.workspaceId === ws).map((r) => r.event.id).sort()).toEqual([forgedId, report?.event.id].sort());
  });

  test("a bad payload with a valid claim is dead-lettered but is no security incident", async ({ claims, inspector, reportsOf, publishRaw, consumer }) => {
    const ws = uuidv7();
    await consumer("bad-payload-only", `evt.${ws}.agent.>`);
    const badId = await publishRaw(ws, { claim: await claims.sign({ ws }), data: { agent: { name: 42 } } });
    await vi.waitFor(async () => expect(await inspector.deadLetters("bad-payload-only")).toHaveLength(1), { timeout: 5_000 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(reportsOf(badId)).toEqual([]);
  });

  test("with no service claim to be had, the message is still dead-lettered and acked, and the consumer moves on", async ({ env, claims, watcher, inspector, reportsOf, publishRaw, consumer }) => {
    const ws = uuidv7();
    const cut = await connectTestBus(env, "audit", {
      issueServiceClaim: async () => {
        throw new Error("identity is down");
      },
    });
    try {
      const applied = await consumer("identity-down", `evt.${ws}.agent.>`, cut);
      const forgedId = await publishRaw(ws);
      const goodId = await publishRaw(ws, { claim: await claims.sign({ ws }) });
      const started = Date.now();
      await vi.waitFor(() => expect(applied).toEqual([goodId]), { timeout: 10_000 });
      // A few bounded tries, not a stalled consumer.
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(await inspector.deadLetters("identity-down")).toHaveLength(1);
      expect(reportsOf(forgedId)).toEqual([]);
      await vi.waitFor(async () => {
        const info = await inspector.jsm.consumers.info(watcher.stream("EVENTS"), "identity-down");
        expect({ pending: info.num_pending, ackPending: info.num_ack_pending }).toEqual({ pending: 0, ackPending: 0 });
      });
    } finally {
      await cut.close();
    }
  });
});
