import { randomBytes, randomUUID } from "node:crypto";
import { describe, expect } from "vitest";
import type { EventMessage } from "@galaxy/bus";
import { incomingTraceparent, TestClaims } from "@galaxy/testkit";
import { agentCreated, eventually, outcome, test } from "./support/nats-permissions";

/** Durable consumers: each service reads, acks and dead-letters through its own, and touches no other. */
describe("durable consumers", () => {
  test("audit and the worker consume their own durables through libs/bus, ack, and write their own dead letters", async ({ claims, registryBus, bus, lastMessage, consumerInfo }) => {
    const audit = await bus("audit");
    const worker = await bus("execution-worker");
    const seen = { audit: new Set<string>(), worker: new Set<string>() };
    const record = (into: Set<string>) => async (message: EventMessage) => {
      into.add(message.event.id);
    };
    await audit.consume({ durable: "audit", filter: "evt.>", handler: record(seen.audit) });
    await worker.consume({ durable: "execution-worker-agents", filter: "evt.*.agent.>", handler: record(seen.worker) });

    const ws = randomUUID();
    const good = agentCreated(ws, await claims.sign({ ws }));
    await registryBus.publishEvent(good);
    // Audit first works through the earlier tests' events, dead-lettering and reporting each.
    await eventually(() => seen.audit.has(good.id) && seen.worker.has(good.id), "both consumers to apply the event");

    // A claim signed by a key identity never had: both consumers dead-letter it, then ack.
    const foreign = await TestClaims.create();
    const forged = agentCreated(ws, await foreign.sign({ ws }));
    await registryBus.publishEvent(forged);
    const subject = `evt.${ws}.agent.created`;
    await eventually(async () => (await lastMessage("DEAD_LETTERS", `dlq.audit.${subject}`)) !== null, "audit's dead letter");
    await eventually(async () => (await lastMessage("DEAD_LETTERS", `dlq.execution-worker-agents.${subject}`)) !== null, "the worker's dead letter");
    expect(seen.audit.has(forged.id) || seen.worker.has(forged.id)).toBe(false);
    // …and report it as a security event of the workspace it named, with a service claim.
    await eventually(async () => (await lastMessage("EVENTS", `evt.${ws}.security.forged_message`)) !== null, "the forged-message report");
    await eventually(async () => {
      const [a, w] = await Promise.all([consumerInfo("audit"), consumerInfo("execution-worker-agents")]);
      return a.num_ack_pending === 0 && w.num_ack_pending === 0;
    }, "every delivered message acked");
  }, 60_000);

  const create = (durable: string, filter: string) => ({
    stream_name: "EVENTS",
    config: { durable_name: durable, filter_subject: filter, ack_policy: "explicit", deliver_policy: "all" },
  });

  test("the worker cannot widen its durable's filter or touch audit's durable", async ({ nc, expectPublishRefused }) => {
    await expectPublishRefused("execution-worker", "$JS.API.CONSUMER.CREATE.EVENTS.execution-worker-agents.evt.>", create("execution-worker-agents", "evt.>"));
    await expectPublishRefused("execution-worker", "$JS.API.CONSUMER.CREATE.EVENTS.execution-worker-agents", create("execution-worker-agents", ">"));
    await expectPublishRefused("execution-worker", "$JS.API.CONSUMER.CREATE.EVENTS.audit.evt.>", create("audit", "evt.>"));
    await expectPublishRefused("execution-worker", "$JS.API.CONSUMER.MSG.NEXT.EVENTS.audit", { batch: 1 });
    await expectPublishRefused("execution-worker", "$JS.API.CONSUMER.DELETE.EVENTS.audit");
    await expectPublishRefused("execution-worker", "$JS.API.CONSUMER.DURABLE.CREATE.EVENTS.execution-worker-agents", create("execution-worker-agents", "evt.>"));
    await expectPublishRefused("execution-worker", "$JS.ACK.EVENTS.audit.1.1.1.1.0");
    // The one create subject it may use pins the filter: JetStream refuses a body that differs.
    const widened = await outcome(nc["execution-worker"], "$JS.API.CONSUMER.CREATE.EVENTS.execution-worker-agents.evt.*.agent.>", create("execution-worker-agents", "evt.>"));
    expect(widened).toMatchObject({ reply: { error: { err_code: 10131 } } });
    const renamed = await outcome(nc["execution-worker"], "$JS.API.CONSUMER.CREATE.EVENTS.execution-worker-agents.evt.*.agent.>", create("audit", "evt.*.agent.>"));
    expect(renamed).toMatchObject({ reply: { error: { code: 400 } } });
  });

  test("the worker's callback durable reads execution events only, and no one else takes its messages", async ({ nc, expectPublishRefused }) => {
    await expectPublishRefused("execution-worker", "$JS.API.CONSUMER.CREATE.EVENTS.execution-worker-callbacks.evt.>", create("execution-worker-callbacks", "evt.>"));
    const widened = await outcome(nc["execution-worker"], "$JS.API.CONSUMER.CREATE.EVENTS.execution-worker-callbacks.evt.*.execution.>", create("execution-worker-callbacks", "evt.>"));
    expect(widened).toMatchObject({ reply: { error: { err_code: 10131 } } });
    await expectPublishRefused("galaxy-cli", "$JS.API.CONSUMER.MSG.NEXT.EVENTS.execution-worker-callbacks", { batch: 1 });
    await expectPublishRefused("galaxy-cli", "$JS.API.CONSUMER.DELETE.EVENTS.execution-worker-callbacks");
    await expectPublishRefused("agent-registry", "$JS.API.CONSUMER.MSG.NEXT.EVENTS.execution-worker-callbacks", { batch: 1 });
  });

  test("the registry consumes document.added through its own durable, through libs/bus, and acks", async ({ claims, registryBus, consumerInfo }) => {
    const seen = new Set<string>();
    await registryBus.consume({ durable: "agent-registry-documents", filter: "evt.*.document.added", handler: async (message) => void seen.add(message.event.id) });
    const ws = randomUUID();
    const id = randomUUID();
    const knowledgeBaseId = randomUUID();
    await registryBus.publishEvent({
      id, workspaceId: ws, type: "document.added", schemaVersion: 1,
      payload: { id, type: "document.added", occurredAt: new Date().toISOString(), workspaceId: ws, actor: { type: "user", id: randomUUID() }, data: { documentId: randomUUID(), knowledgeBaseId, title: "Doc", sizeBytes: 3 } },
      context: { claim: await claims.sign({ ws }), traceparent: incomingTraceparent(), correlationId: randomUUID(), causationId: randomUUID() },
    });
    await eventually(() => seen.has(id), "the registry to apply document.added");
    await eventually(async () => (await consumerInfo("agent-registry-documents")).num_ack_pending === 0, "the event acked");
  });

  test("the registry's one durable indexes added documents: it cannot widen its filter or take another's", async ({ nc, expectPublishRefused }) => {
    await expectPublishRefused("agent-registry", "$JS.API.CONSUMER.CREATE.EVENTS.agent-registry-documents.evt.>", create("agent-registry-documents", "evt.>"));
    await expectPublishRefused("agent-registry", "$JS.API.CONSUMER.CREATE.EVENTS.agent-registry-documents", create("agent-registry-documents", ">"));
    await expectPublishRefused("agent-registry", "$JS.API.CONSUMER.MSG.NEXT.EVENTS.execution-worker-agents", { batch: 1 });
    await expectPublishRefused("agent-registry", "$JS.ACK.EVENTS.audit.1.1.1.1.0");
    const widened = await outcome(nc["agent-registry"], "$JS.API.CONSUMER.CREATE.EVENTS.agent-registry-documents.evt.*.document.added", create("agent-registry-documents", "evt.>"));
    expect(widened).toMatchObject({ reply: { error: { err_code: 10131 } } });
    await expectPublishRefused("galaxy-cli", "$JS.API.CONSUMER.MSG.NEXT.EVENTS.agent-registry-documents", { batch: 1 });
    await expectPublishRefused("galaxy-cli", "$JS.API.CONSUMER.DELETE.EVENTS.agent-registry-documents");
  });

  test("the worker runs execution-worker-webhooks through libs/bus, on webhook deliveries alone; the CLI cannot take its messages", async ({ nc, bus, expectPublishRefused, consumerInfo }) => {
    const worker = await bus("execution-worker");
    await worker.consume({ durable: "execution-worker-webhooks", filter: "evt.*.webhook.received", handler: async () => undefined });
    expect(await consumerInfo("execution-worker-webhooks")).toMatchObject({ config: { filter_subject: "evt.*.webhook.received" } });
    await expectPublishRefused("execution-worker", "$JS.API.CONSUMER.CREATE.EVENTS.execution-worker-webhooks.evt.>", create("execution-worker-webhooks", "evt.>"));
    const widened = await outcome(nc["execution-worker"], "$JS.API.CONSUMER.CREATE.EVENTS.execution-worker-webhooks.evt.*.webhook.received", create("execution-worker-webhooks", "evt.>"));
    expect(widened).toMatchObject({ reply: { error: { err_code: 10131 } } });
    await expectPublishRefused("galaxy-cli", "$JS.API.CONSUMER.MSG.NEXT.EVENTS.execution-worker-webhooks", { batch: 1 });
    await expectPublishRefused("gateway", "$JS.API.CONSUMER.MSG.NEXT.EVENTS.execution-worker-webhooks", { batch: 1 });
  });

  test("the gateway, identity and the registry keep no other consumers and read no stream", async ({ expectPublishRefused }) => {
    for (const user of ["gateway", "identity", "agent-registry"] as const) {
      await expectPublishRefused(user, `$JS.API.CONSUMER.CREATE.EVENTS.${user}-reader.evt.>`, create(`${user}-reader`, "evt.>"));
      await expectPublishRefused(user, "$JS.API.CONSUMER.MSG.NEXT.EVENTS.audit", { batch: 1 });
      await expectPublishRefused(user, "$JS.API.STREAM.MSG.GET.EVENTS", { last_by_subj: "evt.>" });
    }
  });

  test("audit reads EVENTS and DEAD_LETTERS through ordered consumers of its own (replays, the dead-letter index), never through another service's durable", async ({ nc, expectPublishRefused }) => {
    for (const stream of ["EVENTS", "DEAD_LETTERS"] as const) {
      const filter = stream === "EVENTS" ? "evt.>" : "dlq.>";
      const name = `oc_${randomBytes(4).toString("hex")}_1`;
      const created = await outcome(nc.audit, `$JS.API.CONSUMER.CREATE.${stream}.${name}.${filter}`, {
        stream_name: stream,
        config: { name, filter_subject: filter, ack_policy: "none", deliver_policy: "all", mem_storage: true, inactive_threshold: 60_000_000_000 },
      });
      expect(created).toMatchObject({ reply: { name } });
      expect(await outcome(nc.audit, `$JS.API.CONSUMER.MSG.NEXT.${stream}.${name}`, { batch: 1, no_wait: true })).toHaveProperty("reply");
      expect(await outcome(nc.audit, `$JS.API.CONSUMER.DELETE.${stream}.${name}`)).toMatchObject({ reply: { success: true } });
    }
    expect(await outcome(nc.audit, "$JS.API.STREAM.MSG.GET.DEAD_LETTERS", { seq: 1 })).toHaveProperty("reply");
    await expectPublishRefused("audit", "$JS.API.CONSUMER.MSG.NEXT.EVENTS.execution-worker-agents", { batch: 1 });
    await expectPublishRefused("audit", "$JS.API.CONSUMER.CREATE.EVENTS.execution-worker-agents.evt.*.agent.>", create("execution-worker-agents", "evt.*.agent.>"));
    await expectPublishRefused("audit", "$JS.API.CONSUMER.DELETE.EVENTS.execution-worker-agents");
    await expectPublishRefused("audit", "$JS.API.CONSUMER.DELETE.EVENTS.audit");
    await expectPublishRefused("audit", "$JS.API.STREAM.PURGE.EVENTS");
  });

  test("galaxy-cli reads the streams through consumers of its own, never through a service's durable", async ({ nc, expectPublishRefused, consumerInfo }) => {
    const name = `replay-${randomBytes(4).toString("hex")}`;
    const created = await outcome(nc["galaxy-cli"], `$JS.API.CONSUMER.CREATE.EVENTS.${name}.evt.>`, {
      stream_name: "EVENTS",
      config: { name, filter_subject: "evt.>", ack_policy: "none", deliver_policy: "all", mem_storage: true, inactive_threshold: 60_000_000_000 },
    });
    expect(created).toMatchObject({ reply: { name } });
    const next = await outcome(nc["galaxy-cli"], `$JS.API.CONSUMER.MSG.NEXT.EVENTS.${name}`, { batch: 1, no_wait: true });
    expect(next, JSON.stringify(next)).toHaveProperty("reply");
    expect(await outcome(nc["galaxy-cli"], `$JS.API.CONSUMER.DELETE.EVENTS.${name}`)).toMatchObject({ reply: { success: true } });

    expect(await consumerInfo("audit")).toMatchObject({ name: "audit" });
    await expectPublishRefused("galaxy-cli", "$JS.API.CONSUMER.MSG.NEXT.EVENTS.audit", { batch: 1 });
    await expectPublishRefused("galaxy-cli", "$JS.API.CONSUMER.MSG.NEXT.EVENTS.execution-worker-agents", { batch: 1 });
    await expectPublishRefused("galaxy-cli", "$JS.API.CONSUMER.DELETE.EVENTS.audit");
    await expectPublishRefused("galaxy-cli", "$JS.API.CONSUMER.CREATE.EVENTS.audit.evt.>", create("audit", "evt.>"));
    await expectPublishRefused("galaxy-cli", "$JS.ACK.EVENTS.audit.1.1.1.1.0");
  });
});
