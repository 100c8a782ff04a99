import { afterAll, beforeAll, describe, expect, inject, test, vi } from "vitest";
import { jetstream, jetstreamManager, type JetStreamManager, type StoredMsg } from "@nats-io/jetstream";
import { SignJWT, generateKeyPair } from "jose";
import { v7 as uuidv7 } from "uuid";
import {
  CLAIM_AUDIENCE, CLAIM_ISSUER, CLAIM_TYP, GalaxyError, HEADER, NotFoundError, UnavailableError, ValidationError, type Agent, type EventEnvelope,
  type Execution, type Jwks,
} from "@galaxy/contracts";
import { newTraceparent, traceIdOf } from "@galaxy/observability";
import { connectTestBus, createTestEnv, TestClaims, type TestEnv } from "@galaxy/testkit";
import { Bus, dropStreams, type EventMessage, type RequestContext, type StoredEvent } from "./bus";

let env: TestEnv;
let claims: TestClaims;
/** Plays identity: answers `svc.identity.jwks` with whatever `jwks` holds. */
let identity: Bus;
let jwks: Jwks;
let caller: Bus;
let server: Bus;
let publisher: Bus;
let worker: Bus;
let jsm: JetStreamManager;

/** What the served `registry.agents.get` does; each test sets its own. */
let onAgentGet: (req: { id: string }, ctx: RequestContext) => Promise<Agent>;

beforeAll(async () => {
  env = await createTestEnv(inject("engines"));
  claims = await TestClaims.create();
  jwks = claims.jwks;
  identity = await connectTestBus(env, "identity", { loadJwks: async () => jwks });
  identity.serve("identity.jwks", async () => jwks);
  caller = await connectTestBus(env, "gateway");
  server = await connectTestBus(env, "agent-registry");
  server.serve("registry.agents.get", (req, ctx) => onAgentGet(req, ctx));
  publisher = await connectTestBus(env, "agent-registry");
  worker = await connectTestBus(env, "execution-worker");
  jsm = await jetstreamManager(caller.nc);
});

afterAll(async () => {
  for (const bus of [worker, publisher, server, caller, identity]) await bus?.close();
  await env?.cleanup();
});

function agent(workspaceId: string, overrides: Partial<Agent> = {}): Agent {
  return {
    id: uuidv7(),
    workspaceId,
    status: "draft",
    version: 1,
    createdBy: uuidv7(),
    createdAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
    name: "Summarizer",
    description: null,
    provider: "openai",
    model: "galaxy-dev-echo",
    systemPrompt: "Summarize.",
    temperature: null,
    maxTokens: null,
    tools: [],
    knowledgeBaseIds: [],
    inputSchema: null,
    outputSchema: null,
    timeoutMs: null,
    notifyUrl: null,
    ...overrides,
  };
}

function execution(workspaceId: string, id: string): Execution {
  return {
    id,
    workspaceId,
    agentId: uuidv7(),
    agentVersion: 1,
    status: "queued",
    trigger: { type: "manual" },
    input: { message: "hi" },
    output: null,
    error: null,
    usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0, costUsd: 0 },
    durationMs: null,
    createdAt: new Date().toISOString(),
    startedAt: null,
    completedAt: null,
  };
}

/** An `agent.created` event as the outbox would store it; `payload` parts may be overridden. */
function agentCreated(workspaceId: string, claim: string, payload: Partial<EventEnvelope> = {}): StoredEvent {
  const id = uuidv7();
  return {
    id,
    workspaceId,
    type: "agent.created",
    schemaVersion: 1,
    payload: {
      id,
      type: "agent.created",
      occurredAt: new Date().toISOString(),
      workspaceId,
      actor: { type: "user", id: uuidv7() },
      data: { agent: agent(workspaceId) },
      ...payload,
    },
    context: { claim, traceparent: newTraceparent(), correlationId: uuidv7(), causationId: uuidv7() },
  };
}

/** Every dead letter a consumer wrote, oldest first. */
async function deadLetters(durable: string): Promise<StoredMsg[]> {
  const stream = caller.stream("DEAD_LETTERS");
  const info = await jsm.streams.info(stream);
  const out: StoredMsg[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const msg = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (msg && msg.subject.startsWith(caller.subject(`dlq.${durable}.`))) out.push(msg);
  }
  return out;
}

async function consumerState(durable: string): Promise<{ pending: number; ackPending: number }> {
  const info = await jsm.consumers.info(caller.stream("EVENTS"), durable);
  return { pending: info.num_pending, ackPending: info.num_ack_pending };
}

const decode = (data: Uint8Array): unknown => JSON.parse(new TextDecoder().decode(data));

async function rejection(promise: Promise<unknown>): Promise<GalaxyError> {
  const outcome = await promise.then(
    () => new Error("expected the promise to reject"),
    (error: unknown) => error,
  );
  if (outcome instanceof GalaxyError) return outcome;
  throw outcome;
}

describe("provision", () => {
  test("creates <PREFIX>_EVENTS and <PREFIX>_DEAD_LETTERS on the prefix's subjects", async () => {
    const upper = env.busPrefix.toUpperCase();
    const events = await jsm.streams.info(`${upper}_EVENTS`);
    const dead = await jsm.streams.info(`${upper}_DEAD_LETTERS`);
    expect(events.config.subjects).toEqual([`${env.busPrefix}.evt.>`]);
    expect(dead.config.subjects).toEqual([`${env.busPrefix}.dlq.>`]);
    expect(caller.stream("EVENTS")).toBe(`${upper}_EVENTS`);
  });

  test("several services provisioning a fresh deployment at once all succeed", async () => {
    const prefix = `${env.busPrefix}p`;
    const buses = await Promise.all(
      ["identity", "audit", "gateway"].map((service) => Bus.connect({ url: env.natsUrl, prefix, service, logger: caller.logger })),
    );
    try {
      await Promise.all(buses.map((bus) => bus.provision()));
      const info = await jsm.streams.info(`${prefix.toUpperCase()}_EVENTS`);
      expect(info.config.subjects).toEqual([`${prefix}.evt.>`]);
    } finally {
      await Promise.all(buses.map((bus) => bus.close()));
      await dropStreams(env.natsUrl, prefix);
    }
  });

  test("is idempotent: running it again keeps the streams and what they hold", async () => {
    const ws = uuidv7();
    await publisher.publishEvent(agentCreated(ws, await claims.sign({ ws })));
    const before = await jsm.streams.info(caller.stream("EVENTS"));
    await caller.provision();
    await publisher.provision();
    const after = await jsm.streams.info(caller.stream("EVENTS"));
    expect(after.state.messages).toBe(before.state.messages);
    expect(after.state.messages).toBeGreaterThan(0);
    expect(after.config.subjects).toEqual(before.config.subjects);
  });
});

describe("requests", () => {
  test("a request reaches the server with its claim verified, and the reply comes back parsed", async () => {
    const ws = uuidv7();
    const sub = uuidv7();
    const claim = await claims.sign({ ws, sub, role: "member" });
    const seen: RequestContext[] = [];
    onAgentGet = async (req, ctx) => {
      seen.push(ctx);
      return agent(ws, { id: req.id });
    };
    const id = uuidv7();
    const reply = await caller.request("registry.agents.get", { id }, { claim, workspaceId: ws });
    expect(reply.id).toBe(id);
    expect(reply.workspaceId).toBe(ws);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.claim).toMatchObject({ ws, sub, role: "member", act: "user" });
  });

  test("the handler's event context keeps the claim, correlation and trace, with a new span", async () => {
    const ws = uuidv7();
    const claim = await claims.sign({ ws });
    const traceparent = newTraceparent();
    let context: ReturnType<RequestContext["eventContext"]> | undefined;
    onAgentGet = async (req, ctx) => {
      context = ctx.eventContext();
      return agent(ws, { id: req.id });
    };
    await caller.request("registry.agents.get", { id: uuidv7() }, { claim, workspaceId: ws, traceparent, correlationId: "corr-1", clientIp: "203.0.113.9" });
    expect(context).toMatchObject({ claim, correlationId: "corr-1", causationId: "corr-1", clientIp: "203.0.113.9" });
    expect(traceIdOf(context?.traceparent ?? "")).toBe(traceIdOf(traceparent));
    expect(context?.traceparent).not.toBe(traceparent);
  });

  test("an expired claim is refused with 401 claim_expired before the handler runs", async () => {
    const ws = uuidv7();
    let ran = false;
    onAgentGet = async (req) => {
      ran = true;
      return agent(ws, { id: req.id });
    };
    const error = await rejection(caller.request("registry.agents.get", { id: uuidv7() }, { claim: await claims.sign({ ws, ttlS: -60 }), workspaceId: ws }));
    expect(error).toMatchObject({ status: 401, code: "claim_expired" });
    expect(ran).toBe(false);
  });

  test("a claim for workspace A with Gx-Workspace-Id B is refused", async () => {
    const a = uuidv7();
    const b = uuidv7();
    let ran = false;
    onAgentGet = async (req) => {
      ran = true;
      return agent(a, { id: req.id });
    };
    const error = await rejection(caller.request("registry.agents.get", { id: uuidv7() }, { claim: await claims.sign({ ws: a }), workspaceId: b }));
    expect(error).toMatchObject({ status: 401, code: "claim_workspace_mismatch" });
    expect(ran).toBe(false);
  });

  test("a request that needs a claim and has none is refused", async () => {
    const error = await rejection(caller.request("registry.agents.get", { id: uuidv7() }));
    expect(error).toMatchObject({ status: 401, code: "claim_missing" });
  });

  test("a claim signed by a key identity does not publish is refused", async () => {
    const stranger = await TestClaims.create();
    const ws = uuidv7();
    const error = await rejection(caller.request("registry.agents.get", { id: uuidv7() }, { claim: await stranger.sign({ ws }), workspaceId: ws }));
    expect(error.status).toBe(401);
    expect(error.code).toBe("claim_unknown_key");
  });

  test("an access token is not accepted as a claim", async () => {
    const ws = uuidv7();
    const error = await rejection(caller.request("registry.agents.get", { id: uuidv7() }, { claim: await claims.sign({ ws }, "at+jwt"), workspaceId: ws }));
    expect(error).toMatchObject({ status: 401, code: "claim_wrong_type" });
  });

  test("a payload that fails its schema is a 400 naming the field", async () => {
    const ws = uuidv7();
    const error = await rejection(caller.request("registry.agents.get", { id: "not-a-uuid" }, { claim: await claims.sign({ ws }), workspaceId: ws }));
    expect(error.status).toBe(400);
    expect(error.code).toBe("validation_failed");
    expect(Object.keys(error.details ?? {})).toEqual(["id"]);
  });

  test("with no server for the operation, the caller gets a 503 UnavailableError at once", async () => {
    const started = Date.now();
    const error = await rejection(caller.request("registry.agents.activate", { id: uuidv7() }));
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error.status).toBe(503);
    expect(error.retryable).toBe(true);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  test("a GalaxyError thrown by the handler arrives as that GalaxyError", async () => {
    const ws = uuidv7();
    const id = uuidv7();
    onAgentGet = async (req) => {
      throw new NotFoundError("agent", req.id);
    };
    const error = await rejection(caller.request("registry.agents.get", { id }, { claim: await claims.sign({ ws }), workspaceId: ws }));
    expect(error).toBeInstanceOf(GalaxyError);
    expect(error.status).toBe(404);
    expect(error.code).toBe("agent_not_found");
    expect(error.message).toBe(`No agent ${id} in this workspace`);
  });

  test("a crashing handler is a 500 internal_error that leaks nothing of the crash", async () => {
    const ws = uuidv7();
    onAgentGet = async () => {
      throw new Error("connect ECONNREFUSED 10.1.2.3:5432 password=hunter2");
    };
    const error = await rejection(caller.request("registry.agents.get", { id: uuidv7() }, { claim: await claims.sign({ ws }), workspaceId: ws }));
    expect(error.status).toBe(500);
    expect(error.code).toBe("internal_error");
    expect(JSON.stringify({ message: error.message, body: error.toBody() })).not.toMatch(/hunter2|10\.1\.2\.3|ECONNREFUSED/);
  });

  test("a key added to the JWKS is picked up when a claim signed by it arrives, and refused once revoked", async () => {
    const ws = uuidv7();
    onAgentGet = async (req) => agent(ws, { id: req.id });
    // The verifier has loaded the JWKS by now; it refetches at most once a second.
    await caller.request("registry.agents.get", { id: uuidv7() }, { claim: await claims.sign({ ws }), workspaceId: ws });
    const rotated = await TestClaims.create();
    jwks = { keys: [...claims.jwks.keys, ...rotated.jwks.keys] };
    try {
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const rotatedClaim = await rotated.sign({ ws });
      const reply = await caller.request("registry.agents.get", { id: uuidv7() }, { claim: rotatedClaim, workspaceId: ws });
      expect(reply.workspaceId).toBe(ws);

      // Revoking the key: it leaves the JWKS and the verifier forgets what it had verified.
      jwks = claims.jwks;
      server.claims.reset();
      const error = await rejection(caller.request("registry.agents.get", { id: uuidv7() }, { claim: rotatedClaim, workspaceId: ws }));
      expect(error).toMatchObject({ status: 401, code: "claim_unknown_key" });
    } finally {
      jwks = claims.jwks;
    }
  });
});

describe("events", () => {
  test("a consumer sees each event typed, with its claim and stream sequence, in publish order", async () => {
    const ws = uuidv7();
    const claim = await claims.sign({ ws, role: "admin" });
    const seen: EventMessage[] = [];
    await worker.consume({ durable: "in-order", filter: `evt.${ws}.>`, handler: async (m) => void seen.push(m) });
    const events = Array.from({ length: 5 }, () => agentCreated(ws, claim));
    await Promise.all(events.map((event) => publisher.publishEvent(event)));
    await vi.waitFor(() => expect(seen).toHaveLength(5), { timeout: 5_000 });
    expect(seen.map((m) => m.event.id)).toEqual(events.map((e) => e.id));
    const seqs = seen.map((m) => m.streamSeq);
    expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
    expect(new Set(seqs).size).toBe(5);
    const first = seen[0];
    expect(first?.event.type).toBe("agent.created");
    if (first?.event.type === "agent.created") expect(first.event.data.agent.workspaceId).toBe(ws);
    expect(first?.claim).toMatchObject({ ws, role: "admin" });
    expect(first?.claimToken).toBe(claim);
    expect(first?.subject).toBe(`evt.${ws}.agent.created`);
    expect(first?.deliveryCount).toBe(1);
    expect(first?.headers.correlationId).toBe(events[0]?.context.correlationId);
    await vi.waitFor(async () => expect(await consumerState("in-order")).toEqual({ pending: 0, ackPending: 0 }));
  });

  test("many publishes made without awaiting between them land in the stream in call order", async () => {
    const ws = uuidv7();
    const claim = await claims.sign({ ws });
    const events = Array.from({ length: 40 }, () => agentCreated(ws, claim));
    await Promise.all(events.map((event) => publisher.publishEvent(event)));
    const seen: string[] = [];
    await worker.consume({ durable: "publish-order", filter: `evt.${ws}.>`, handler: async (m) => void seen.push(m.event.id) });
    await vi.waitFor(() => expect(seen).toHaveLength(40), { timeout: 5_000 });
    expect(seen).toEqual(events.map((e) => e.id));
  });

  test("each event carries the CONTRACT §3 headers, and its id as Nats-Msg-Id", async () => {
    const ws = uuidv7();
    const event = agentCreated(ws, await claims.sign({ ws }));
    await publisher.publishEvent(event);
    const stored = await jsm.streams.getMessage(caller.stream("EVENTS"), { last_by_subj: caller.subject(`evt.${ws}.agent.created`) });
    expect(stored?.header.get(HEADER.msgId)).toBe(event.id);
    expect(stored?.header.get(HEADER.workspaceId)).toBe(ws);
    expect(stored?.header.get(HEADER.claim)).toBe(event.context.claim);
    expect(stored?.header.get(HEADER.eventType)).toBe("agent.created");
    expect(stored?.header.get(HEADER.schemaVersion)).toBe("1");
    expect(stored?.header.get(HEADER.traceparent)).toBe(event.context.traceparent);
    expect(decode(stored?.data ?? new Uint8Array())).toEqual(event.payload);
  });

  test("an event is acked only after its handler returns", async () => {
    const ws = uuidv7();
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered = false;
    let done = false;
    await worker.consume({
      durable: "ack-after",
      filter: `evt.${ws}.>`,
      handler: async () => {
        entered = true;
        await gate;
        done = true;
      },
    });
    await publisher.publishEvent(agentCreated(ws, await claims.sign({ ws })));
    await vi.waitFor(() => expect(entered).toBe(true), { timeout: 5_000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await consumerState("ack-after")).toEqual({ pending: 0, ackPending: 1 });
    release();
    await vi.waitFor(() => expect(done).toBe(true));
    await vi.waitFor(async () => expect(await consumerState("ack-after")).toEqual({ pending: 0, ackPending: 0 }));
  });

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
    expect(await deadLetters("flaky")).toEqual([]);
    expect(await consumerState("flaky")).toEqual({ pending: 0, ackPending: 0 });
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
      const found = await deadLetters("always-down");
      expect(found).toHaveLength(1);
      return found;
    }, { timeout: 5_000 });
    expect(dead?.subject).toBe(caller.subject(`dlq.always-down.evt.${ws}.agent.created`));
    expect(dead?.header.get(HEADER.dlqDeliveries)).toBe("3");
    expect(dead?.header.get(HEADER.dlqError)).toBe("still down");
    expect(dead?.header.get(HEADER.dlqConsumer)).toBe("always-down");
    expect(decode(dead?.data ?? new Uint8Array())).toEqual(event.payload);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(calls).toBe(3);
    expect(await consumerState("always-down")).toEqual({ pending: 0, ackPending: 0 });
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
      const found = await deadLetters("refuses");
      expect(found).toHaveLength(1);
      return found;
    }, { timeout: 5_000 });
    expect(dead?.header.get(HEADER.dlqDeliveries)).toBe("1");
    expect(dead?.header.get(HEADER.dlqError)).toBe("the agent's config cannot be projected");
    expect(calls).toBe(1);
  });

  /**
   * Publishes `bad` then a good event to a fresh workspace's consumer; checks that the bad one
   * is dead-lettered (never reaching the handler) and that the good one is applied after it.
   */
  async function expectDeadLetteredThenMovesOn(durable: string, ws: string, bad: StoredEvent, error: RegExp): Promise<void> {
    const applied: string[] = [];
    await worker.consume({ durable, filter: `evt.${ws}.>`, handler: async (m) => void applied.push(m.event.id) });
    await publisher.publishEvent(bad);
    const good = agentCreated(ws, await claims.sign({ ws }));
    await publisher.publishEvent(good);
    await vi.waitFor(() => expect(applied).toEqual([good.id]), { timeout: 5_000 });
    const dead = await deadLetters(durable);
    expect(dead).toHaveLength(1);
    const letter = dead[0];
    expect(letter?.subject).toBe(caller.subject(`dlq.${durable}.evt.${ws}.${bad.type}`));
    expect(letter?.header.get(HEADER.dlqConsumer)).toBe(durable);
    expect(letter?.header.get(HEADER.dlqDeliveries)).toBe("1");
    expect(letter?.header.get(HEADER.dlqError)).toMatch(error);
    expect(letter?.header.get(HEADER.dlqSubject)).toBe(`evt.${ws}.${bad.type}`);
    expect(letter?.header.get(HEADER.claim)).toBe(bad.context.claim);
    expect(letter?.header.get(HEADER.msgId)).not.toBe(bad.id);
    expect(decode(letter?.data ?? new Uint8Array())).toEqual(bad.payload);
    await vi.waitFor(async () => expect(await consumerState(durable)).toEqual({ pending: 0, ackPending: 0 }));
  }

  test("an event whose claim was signed by another key is dead-lettered", async () => {
    const ws = uuidv7();
    const forger = await TestClaims.create();
    await expectDeadLetteredThenMovesOn("forged-key", ws, agentCreated(ws, await forger.sign({ ws })), /claim refused/);
  });

  test("an event whose claim reuses identity's key id with another key is dead-lettered", async () => {
    const ws = uuidv7();
    const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ ws, act: "user", role: "owner" })
      .setProtectedHeader({ alg: "EdDSA", kid: claims.kid, typ: CLAIM_TYP })
      .setIssuer(CLAIM_ISSUER)
      .setAudience(CLAIM_AUDIENCE)
      .setSubject(uuidv7())
      .setIssuedAt(now)
      .setExpirationTime(now + 900)
      .setJti(uuidv7())
      .sign(privateKey);
    await expectDeadLetteredThenMovesOn("forged-signature", ws, agentCreated(ws, forged), /signature/);
  });

  test("an event whose claim names another workspace is dead-lettered", async () => {
    const ws = uuidv7();
    await expectDeadLetteredThenMovesOn("claim-elsewhere", ws, agentCreated(ws, await claims.sign({ ws: uuidv7() })), /different workspaces/);
  });

  test("an event whose payload names another workspace than its subject is dead-lettered", async () => {
    const ws = uuidv7();
    const elsewhere = uuidv7();
    const bad = agentCreated(ws, await claims.sign({ ws }), { workspaceId: elsewhere });
    await expectDeadLetteredThenMovesOn("payload-elsewhere", ws, bad, /different workspaces/);
  });

  test("an event whose data fails its schema is dead-lettered", async () => {
    const ws = uuidv7();
    const bad = agentCreated(ws, await claims.sign({ ws }), { data: { agent: { name: 42 } } });
    await expectDeadLetteredThenMovesOn("bad-payload", ws, bad, /bad agent\.created data/);
  });

  test("an event without a claim is dead-lettered", async () => {
    const ws = uuidv7();
    await expectDeadLetteredThenMovesOn("no-claim", ws, agentCreated(ws, ""), /claim refused/);
  });

  test("raw messages without headers, or on a subject that names no workspace, are dead-lettered", async () => {
    const ws = uuidv7();
    const applied: string[] = [];
    await worker.consume({ durable: "raw", filter: `evt.${ws}.>`, handler: async (m) => void applied.push(m.event.id) });
    const tag = `nows${Date.now()}`;
    await worker.consume({ durable: "raw-subject", filter: `evt.${tag}.>`, handler: async (m) => void applied.push(m.event.id) });
    const js = jetstream(caller.nc);
    await js.publish(caller.subject(`evt.${ws}.agent.created`), "not json at all");
    await js.publish(caller.subject(`evt.${tag}.agent.created`), JSON.stringify({ hello: "world" }));
    const [headerless] = await vi.waitFor(async () => {
      const found = await deadLetters("raw");
      expect(found).toHaveLength(1);
      return found;
    }, { timeout: 5_000 });
    expect(headerless?.header.get(HEADER.dlqError)).toBe("no valid Gx-Workspace-Id header");
    expect(new TextDecoder().decode(headerless?.data)).toBe("not json at all");
    const [badSubject] = await vi.waitFor(async () => {
      const found = await deadLetters("raw-subject");
      expect(found).toHaveLength(1);
      return found;
    }, { timeout: 5_000 });
    expect(badSubject?.header.get(HEADER.dlqError)).toBe(`evt.${tag}.agent.created is not an event subject`);
    expect(applied).toEqual([]);
  });

  test("an event's claim is accepted after it expired; the same claim on a request is not", async () => {
    const ws = uuidv7();
    const expired = await claims.sign({ ws, ttlS: -3_600 });
    const applied: EventMessage[] = [];
    await worker.consume({ durable: "old-facts", filter: `evt.${ws}.>`, handler: async (m) => void applied.push(m) });
    await publisher.publishEvent(agentCreated(ws, expired));
    await vi.waitFor(() => expect(applied).toHaveLength(1), { timeout: 5_000 });
    expect(applied[0]?.claim.exp).toBeLessThan(Date.now() / 1000);
    expect(await deadLetters("old-facts")).toEqual([]);

    // The worker has now verified (and cached) this claim; a request with it must still fail.
    worker.serve("execution.get", async (req) => execution(ws, req.id));
    // The subscription must reach the server before the request does (another connection).
    await worker.nc.flush();
    const error = await rejection(caller.request("execution.get", { id: uuidv7() }, { claim: expired, workspaceId: ws }));
    expect(error).toMatchObject({ status: 401, code: "claim_expired" });
  });

  test("a consumer started again under the same durable resumes after what it acked", async () => {
    const ws = uuidv7();
    const claim = await claims.sign({ ws });
    const first = await connectTestBus(env, "audit");
    const applied: string[] = [];
    await first.consume({ durable: "resumable", filter: `evt.${ws}.>`, handler: async (m) => void applied.push(m.event.id) });
    const before = agentCreated(ws, claim);
    await publisher.publishEvent(before);
    await vi.waitFor(() => expect(applied).toEqual([before.id]), { timeout: 5_000 });
    await vi.waitFor(async () => expect(await consumerState("resumable")).toEqual({ pending: 0, ackPending: 0 }));
    await first.close();

    const after = agentCreated(ws, claim);
    await publisher.publishEvent(after);
    const second = await connectTestBus(env, "audit");
    try {
      await second.consume({ durable: "resumable", filter: `evt.${ws}.>`, handler: async (m) => void applied.push(m.event.id) });
      await vi.waitFor(() => expect(applied).toEqual([before.id, after.id]), { timeout: 5_000 });
    } finally {
      await second.close();
    }
  });

  test("instances sharing a durable share the work: each event is applied once", async () => {
    const ws = uuidv7();
    const claim = await claims.sign({ ws });
    const second = await connectTestBus(env, "execution-worker");
    const applied: Array<{ instance: number; id: string }> = [];
    try {
      await Promise.all(
        [worker, second].map((bus, instance) =>
          bus.consume({ durable: "shared", filter: `evt.${ws}.>`, handler: async (m) => void applied.push({ instance, id: m.event.id }) }),
        ),
      );
      const events = Array.from({ length: 20 }, () => agentCreated(ws, claim));
      await Promise.all(events.map((event) => publisher.publishEvent(event)));
      await vi.waitFor(() => expect(applied).toHaveLength(20), { timeout: 5_000 });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(applied.map((a) => a.id).sort()).toEqual(events.map((e) => e.id).sort());
    } finally {
      await second.close();
    }
  });

  test("core subscribers see events too, under their unprefixed subject", async () => {
    const ws = uuidv7();
    const seen: Array<{ subject: string; data: unknown }> = [];
    worker.subscribeCore(`evt.${ws}.agent.*`, (data, subject) => seen.push({ subject, data }));
    await worker.nc.flush();
    const event = agentCreated(ws, await claims.sign({ ws }));
    await publisher.publishEvent(event);
    await vi.waitFor(() => expect(seen).toHaveLength(1), { timeout: 5_000 });
    expect(seen[0]).toEqual({ subject: `evt.${ws}.agent.created`, data: event.payload });
  });

  test("a core subscriber that throws costs neither its later messages nor the connection", async () => {
    const ws = uuidv7();
    const bus = await connectTestBus(env, "gateway");
    try {
      const seen: string[] = [];
      bus.subscribeCore(`live.${ws}.execution.*`, (data, subject) => {
        seen.push(subject);
        if (seen.length === 1) throw new Error("the cache invalidation handler broke");
      });
      await bus.nc.flush();
      publisher.publishCore(`live.${ws}.execution.e1`, { delta: "a" });
      publisher.publishCore(`live.${ws}.execution.e2`, { delta: "b" });
      await vi.waitFor(() => expect(seen).toEqual([`live.${ws}.execution.e1`, `live.${ws}.execution.e2`]), { timeout: 2_000 });
      onAgentGet = async (req) => agent(ws, { id: req.id });
      const reply = await bus.request("registry.agents.get", { id: uuidv7() }, { claim: await claims.sign({ ws }), workspaceId: ws, timeoutMs: 2_000 });
      expect(reply.workspaceId).toBe(ws);
    } finally {
      await bus.close();
    }
  });
});

describe("close", () => {
  test("drains: a request being handled finishes and its reply arrives", async () => {
    const ws = uuidv7();
    const draining = await connectTestBus(env, "execution-worker");
    let started: () => void = () => {};
    const handling = new Promise<void>((resolve) => (started = resolve));
    let finished = false;
    // Another instance of the same service may still be serving execution.get; this op is its own.
    draining.serve("registry.agents.list", async () => {
      started();
      await new Promise((resolve) => setTimeout(resolve, 300));
      finished = true;
      return { items: [agent(ws)], pagination: { total: 1, limit: 20, offset: 0, hasMore: false } };
    });
    await draining.nc.flush();
    const reply = caller.request("registry.agents.list", {}, { claim: await claims.sign({ ws }), workspaceId: ws });
    await handling;
    await draining.close();
    expect(finished).toBe(true);
    const page = await reply;
    expect(page.items).toHaveLength(1);
    expect(draining.isConnected()).toBe(false);
    const after = await rejection(caller.request("registry.agents.list", {}, { claim: await claims.sign({ ws }), workspaceId: ws }));
    expect(after.status).toBe(503);
  });
});
