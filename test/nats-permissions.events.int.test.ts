import { randomUUID } from "node:crypto";
import { describe, expect } from "vitest";
import { agentCreated, json, outcome, test, USERS, type User } from "./support/nats-permissions";

/** Who may publish which events into EVENTS, and who may subscribe to what on core NATS. */
describe("events", () => {
  // [who, event type, may publish]. Each row uses a workspace of its own, so a refused row
  // can also prove that nothing of it reached EVENTS.
  const rows: Array<[User, string, boolean]> = [
    ["identity", "workspace.created", true],
    ["identity", "member.role_changed", true],
    ["identity", "api_key.revoked", true],
    ["identity", "security.cross_workspace_attempt", true],
    ["identity", "agent.created", false],
    ["agent-registry", "agent.created", true],
    ["agent-registry", "trigger.created", true],
    ["agent-registry", "knowledge_base.created", true],
    ["agent-registry", "document.added", true],
    ["agent-registry", "document.indexed", true],
    ["execution-worker", "document.added", false],
    ["agent-registry", "execution.completed", false],
    ["agent-registry", "member.added", false],
    ["execution-worker", "execution.completed", true],
    ["execution-worker", "security.forged_message", true],
    ["execution-worker", "agent.activated", false],
    // The worker keeps workspaces' tiers and records their changes; identity's workspace events stay identity's.
    ["execution-worker", "workspace.tier_changed", true],
    ["execution-worker", "workspace.updated", false],
    ["gateway", "workspace.tier_changed", false],
    ["audit", "security.forged_message", true],
    ["audit", "execution.completed", false],
    ["audit", "agent.created", false],
    ["audit", "audit.retention_applied", true],
    ["identity", "audit.retention_applied", false],
    ["gateway", "webhook.received", true],
    ["gateway", "agent.created", false],
    ["gateway", "security.cross_workspace_attempt", false],
    ["gateway", "api_key.revoked", false],
    ["galaxy-cli", "replay.started", false],
    // Audit runs and records replays and redrives (docs/replay.md): their events are its own.
    ["audit", "replay.started", true],
    ["audit", "replay.completed", true],
    ["audit", "dead_letter.redriven", true],
    ["execution-worker", "replay.completed", false],
    ["gateway", "dead_letter.redriven", false],
    ["identity", "signing_key.revoked", true],
    ["identity", "user.system_admin_granted", true],
    ["gateway", "signing_key.revoked", false],
    ["galaxy-cli", "signing_key.rotated", false],
    ["audit", "signing_key.revoked", false],
    ["galaxy-cli", "agent.created", false],
  ];

  test.for(rows)("%s publishing %s: allowed %s", async ([user, type, allowed], { nc, expectPublishRefused, lastMessage }) => {
    const subject = `evt.${randomUUID()}.${type}`;
    if (allowed) {
      const result = await outcome(nc[user], subject);
      expect(result).toMatchObject({ reply: { stream: "EVENTS" } });
      expect(await lastMessage("EVENTS", subject)).toMatchObject({ subject });
    } else {
      await expectPublishRefused(user, subject);
      expect(await lastMessage("EVENTS", subject)).toBeNull();
    }
  });

  test("libs/bus's publishEvent gets JetStream's ack for the registry's own event", async ({ claims, registryBus, lastMessage }) => {
    const ws = randomUUID();
    const event = agentCreated(ws, await claims.sign({ ws }));
    await registryBus.publishEvent(event);
    expect(await lastMessage("EVENTS", `evt.${ws}.agent.created`)).toMatchObject({ subject: `evt.${ws}.agent.created` });
  });

  test("nobody but the owner publishes dead letters, signals or live deltas", async ({ expectPublishRefused }) => {
    await expectPublishRefused("gateway", "dlq.audit.evt.x.agent.created");
    await expectPublishRefused("execution-worker", "dlq.audit.evt.x.agent.created");
    await expectPublishRefused("audit", "dlq.execution-worker-agents.evt.x.agent.created");
    await expectPublishRefused("galaxy-cli", "dlq.audit.evt.x.agent.created");
    await expectPublishRefused("gateway", "sig.execution.wake");
    await expectPublishRefused("gateway", "sig.execution.cancel");
    await expectPublishRefused("agent-registry", "sig.execution.wake");
    await expectPublishRefused("gateway", `live.${randomUUID()}.execution.${randomUUID()}`);
    await expectPublishRefused("audit", `live.${randomUUID()}.execution.${randomUUID()}`);
  });
});

describe("core subscriptions", () => {
  test("the worker's live deltas reach the gateway and its wake-ups reach the other instances", async ({ nc, raw }) => {
    const ws = randomUUID();
    const id = randomUUID();
    const live = nc.gateway.subscribe(`live.${ws}.execution.${id}`, { max: 1 });
    const otherWorker = await raw("execution-worker");
    const wake = otherWorker.subscribe("sig.execution.wake", { max: 1 });
    await Promise.all([nc.gateway.flush(), otherWorker.flush()]);
    nc["execution-worker"].publish(`live.${ws}.execution.${id}`, JSON.stringify({ delta: "echo" }));
    nc["execution-worker"].publish("sig.execution.wake", JSON.stringify({ from: "test" }));
    for (const sub of [live, wake]) {
      const received: unknown[] = [];
      for await (const msg of sub) received.push(json(msg.data));
      expect(received).toHaveLength(1);
    }
  });

  test("an execution's events reach the gateway's SSE streams, and a cancel reaches the other worker instances", async ({ nc, raw }) => {
    const ws = randomUUID();
    const events = nc.gateway.subscribe(`evt.${ws}.execution.>`, { max: 1 });
    const otherWorker = await raw("execution-worker");
    const cancel = otherWorker.subscribe("sig.execution.cancel", { max: 1 });
    await Promise.all([nc.gateway.flush(), otherWorker.flush()]);
    nc["execution-worker"].publish(`evt.${ws}.execution.completed`, JSON.stringify({ id: "test" }));
    nc["execution-worker"].publish("sig.execution.cancel", JSON.stringify({ executionId: randomUUID(), workspaceId: ws }));
    for (const sub of [events, cancel]) {
      const received: unknown[] = [];
      for await (const msg of sub) received.push(json(msg.data));
      expect(received).toHaveLength(1);
    }
  });

  test("the invalidations the gateway and the worker listen for reach them on core NATS", async ({ nc }) => {
    const ws = randomUUID();
    const member = nc.gateway.subscribe(`evt.${ws}.member.>`, { max: 1 });
    const credential = nc["execution-worker"].subscribe(`evt.*.provider_credential.>`, { max: 1 });
    await Promise.all([nc.gateway.flush(), nc["execution-worker"].flush()]);
    expect(await outcome(nc.identity, `evt.${ws}.member.removed`)).toMatchObject({ reply: { stream: "EVENTS" } });
    expect(await outcome(nc.identity, `evt.${ws}.provider_credential.updated`)).toMatchObject({ reply: { stream: "EVENTS" } });
    for (const [sub, subject] of [[member, `evt.${ws}.member.removed`], [credential, `evt.${ws}.provider_credential.updated`]] as const) {
      const subjects: string[] = [];
      for await (const msg of sub) subjects.push(msg.subject);
      expect(subjects).toEqual([subject]);
    }
  });

  test("trigger and agent changes reach the gateway's trigger cache, and agent changes the registry's schedules", async ({ nc }) => {
    const ws = randomUUID();
    const gatewayTriggers = nc.gateway.subscribe(`evt.${ws}.trigger.>`, { max: 1 });
    const gatewayAgents = nc.gateway.subscribe(`evt.${ws}.agent.>`, { max: 1 });
    const registryAgents = nc["agent-registry"].subscribe(`evt.${ws}.agent.>`, { max: 1 });
    await Promise.all([nc.gateway.flush(), nc["agent-registry"].flush()]);
    expect(await outcome(nc["agent-registry"], `evt.${ws}.trigger.deleted`)).toMatchObject({ reply: { stream: "EVENTS" } });
    expect(await outcome(nc["agent-registry"], `evt.${ws}.agent.paused`)).toMatchObject({ reply: { stream: "EVENTS" } });
    for (const [sub, subject] of [[gatewayTriggers, `evt.${ws}.trigger.deleted`], [gatewayAgents, `evt.${ws}.agent.paused`], [registryAgents, `evt.${ws}.agent.paused`]] as const) {
      const subjects: string[] = [];
      for await (const msg of sub) subjects.push(msg.subject);
      expect(subjects).toEqual([subject]);
    }
  });

  test("a signing key's revocation reaches every service that verifies tokens or claims", async ({ nc }) => {
    const listeners = (["gateway", "identity", "agent-registry", "execution-worker", "audit"] as const).map((user) => nc[user].subscribe("evt.*.signing_key.revoked", { max: 1 }));
    await Promise.all(USERS.map((user) => nc[user].flush()));
    const subject = `evt.00000000-0000-0000-0000-000000000000.signing_key.revoked`;
    expect(await outcome(nc.identity, subject)).toMatchObject({ reply: { stream: "EVENTS" } });
    for (const sub of listeners) {
      const subjects: string[] = [];
      for await (const msg of sub) subjects.push(msg.subject);
      expect(subjects).toEqual([subject]);
    }
  });

  test.for([
    ["galaxy-cli", "evt.*.signing_key.revoked", undefined],
    ["agent-registry", "evt.*.signing_key.rotated", undefined],
    ["agent-registry", "svc.identity.>", "agent-registry"],
    ["agent-registry", "svc.identity.>", "identity"],
    ["gateway", "svc.registry.>", "agent-registry"],
    ["execution-worker", "svc.audit.>", "audit"],
    ["audit", "svc.execution.start", "execution-worker"],
    // Serving is in the service's own queue group only: a plain subscription would copy
    // every request, a foreign group would take a share of them.
    ["agent-registry", "svc.registry.>", undefined],
    ["identity", "svc.identity.claims.issue", "eavesdroppers"],
    // Events are read through durable consumers; core reads are the named invalidations only.
    ["gateway", "evt.>", undefined],
    ["gateway", `evt.${randomUUID()}.knowledge_base.created`, undefined],
    ["audit", "evt.>", undefined],
    ["execution-worker", "evt.*.member.>", undefined],
    ["agent-registry", "live.*.execution.*", undefined],
    ["galaxy-cli", "svc.>", undefined],
    ["galaxy-cli", "evt.>", undefined],
    ["identity", ">", undefined],
    // Replies go to inboxes named after their user: no one reads another's (a resolved
    // provider key travels in a reply to the execution-worker).
    ["gateway", "_INBOX_execution-worker.>", undefined],
    ["audit", "_INBOX.>", undefined],
    ["agent-registry", "_INBOX_gateway.>", undefined],
  ] as const)("%s subscribing %s (queue %s) is refused", async ([user, subject, queue], { expectSubscribeRefused }) => {
    await expectSubscribeRefused(user, subject, queue);
  });
});
