import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AuthorizationError, connect, PermissionViolationError, RequestError, type NatsConnection } from "@nats-io/transport-node";
import { Bus, type EventMessage, type StoredEvent } from "@galaxy/bus";
import type { Agent } from "@galaxy/contracts";
import { freePort, TestClaims, testLogger, incomingTraceparent } from "@galaxy/testkit";

/**
 * The production NATS configuration (infra/nats/nats-server.conf), run by a nats-server of
 * this test's own: each service and the CLI can do their own work over it, and nothing else.
 * Every refusal is asserted as the server's permission violation, so a rule loosened in the
 * configuration turns its row red (an answer, an ack or a live subscription instead).
 */

const CONFIG = fileURLToPath(new URL("../infra/nats/nats-server.conf", import.meta.url));
const NATS_SERVER = "/usr/sbin/nats-server";

const PASSWORD_VARS = {
  gateway: "NATS_GATEWAY_PASSWORD",
  identity: "NATS_IDENTITY_PASSWORD",
  "agent-registry": "NATS_AGENT_REGISTRY_PASSWORD",
  "execution-worker": "NATS_EXECUTION_WORKER_PASSWORD",
  audit: "NATS_AUDIT_PASSWORD",
  "galaxy-cli": "NATS_GALAXY_CLI_PASSWORD",
} as const;
type User = keyof typeof PASSWORD_VARS;
const USERS = Object.keys(PASSWORD_VARS) as User[];

// A letter, then hex: the server parses the variable's value as a config value (see the config).
const passwords = Object.fromEntries(USERS.map((user) => [user, `p${randomBytes(24).toString("hex")}`])) as Record<User, string>;
const passwordEnv = Object.fromEntries(USERS.map((user) => [PASSWORD_VARS[user], passwords[user]]));

interface RunningServer {
  url: string;
  process: ChildProcess;
  stderr: () => string;
}

let dir: string;
let server: RunningServer;
let claims: TestClaims;
const connections: NatsConnection[] = [];
const buses: Bus[] = [];
/** One raw connection per user, opened in beforeAll. */
const nc = {} as Record<User, NatsConnection>;
/** The services' real bus connections, for the paths libs/bus takes. */
let identityBus: Bus;
let registryBus: Bus;

const decoder = new TextDecoder();
const json = (data: Uint8Array): unknown => JSON.parse(decoder.decode(data));

/** A copy of the configuration whose JetStream store is `storeDir` (the server refuses `-sd` beside `store_dir`). */
async function configCopy(storeDir: string): Promise<string> {
  const original = await readFile(CONFIG, "utf8");
  const copy = original.replace(/^(\s*)store_dir:.*$/m, `$1store_dir: ${JSON.stringify(storeDir)}`);
  if (copy === original) throw new Error("nats-server.conf has no store_dir line to point at the test's directory");
  const path = join(storeDir, "nats-server.conf");
  await writeFile(path, copy);
  return path;
}

function startServer(configPath: string, port: number, env: NodeJS.ProcessEnv): RunningServer {
  // -m 0: no monitoring port, so runs side by side do not fight over 8222.
  const child = spawn(NATS_SERVER, ["-c", configPath, "-a", "127.0.0.1", "-p", String(port), "-m", "0"], { env, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return { url: `nats://127.0.0.1:${port}`, process: child, stderr: () => stderr };
}

async function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function waitForPort(running: RunningServer, port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (running.process.exitCode !== null) throw new Error(`nats-server exited: ${running.stderr()}`);
    if (await portAnswers(port)) return;
    await delay(50);
  }
  throw new Error(`nats-server did not listen on ${port}: ${running.stderr()}`);
}

async function stopServer(running: RunningServer | undefined): Promise<void> {
  if (!running || running.process.exitCode !== null) return;
  const exited = new Promise((resolve) => running.process.once("exit", resolve));
  running.process.kill("SIGTERM");
  await exited;
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function raw(user: User, password = passwords[user]): Promise<NatsConnection> {
  const conn = await connect({ servers: server.url, user, pass: password, name: `test-${user}`, reconnect: false, inboxPrefix: `_INBOX_${user}` });
  connections.push(conn);
  return conn;
}

async function bus(user: User): Promise<Bus> {
  const b = await Bus.connect({ url: server.url, service: user, user, password: passwords[user], logger: testLogger(user), requestTimeoutMs: 3_000 });
  buses.push(b);
  return b;
}

/** What became of a request: its reply, or the error it was rejected with. */
async function outcome(conn: NatsConnection, subject: string, body: unknown = {}): Promise<{ reply: unknown } | { error: unknown }> {
  // Without the shared inbox: a pulled message arrives under its own subject, not the inbox's.
  return conn.request(subject, JSON.stringify(body), { timeout: 3_000, noMux: true }).then(
    (msg) => ({ reply: msg.data.length > 0 ? json(msg.data) : { status: msg.headers?.code } }),
    (error: unknown) => ({ error }),
  );
}

/** Asserts the server refused `user` publishing to `subject` (a publish that a loose rule would let through answers instead). */
async function expectPublishRefused(user: User, subject: string, body: unknown = {}): Promise<void> {
  const result = await outcome(nc[user], subject, body);
  expect(result, `${user} → ${subject}`).toHaveProperty("error");
  // A refused request rejects with a RequestError whose cause is the server's violation.
  const error = "error" in result ? (result.error instanceof RequestError ? result.error.cause : result.error) : undefined;
  expect(error).toBeInstanceOf(PermissionViolationError);
  if (error instanceof PermissionViolationError) {
    expect(error.operation).toBe("publish");
    expect(error.subject).toBe(subject);
  }
}

/** Asserts the server refused the subscription; a subscription still open after 2 s fails. */
async function expectSubscribeRefused(user: User, subject: string, queue?: string): Promise<void> {
  const sub = nc[user].subscribe(subject, queue ? { queue } : {});
  const closed = await Promise.race([sub.closed, delay(2_000).then(() => "still subscribed")]);
  if (closed === "still subscribed") sub.unsubscribe();
  expect(closed, `${user} subscribing ${subject}${queue ? ` in ${queue}` : ""}`).toBeInstanceOf(PermissionViolationError);
  if (closed instanceof PermissionViolationError) expect(closed.operation).toBe("subscription");
}

/** The newest message of `stream` on `subject`, as the CLI reads it; null when there is none. */
async function lastMessage(stream: "EVENTS" | "DEAD_LETTERS", subject: string): Promise<{ subject: string; seq: number } | null> {
  const msg = await nc["galaxy-cli"].request(`$JS.API.STREAM.MSG.GET.${stream}`, JSON.stringify({ last_by_subj: subject }), { timeout: 3_000 });
  const body = json(msg.data);
  if (typeof body !== "object" || body === null) throw new Error("malformed STREAM.MSG.GET reply");
  if ("error" in body) return null;
  if ("message" in body && typeof body.message === "object" && body.message !== null && "subject" in body.message && "seq" in body.message) {
    return { subject: String(body.message.subject), seq: Number(body.message.seq) };
  }
  throw new Error(`unexpected STREAM.MSG.GET reply ${JSON.stringify(body)}`);
}

async function consumerInfo(durable: string): Promise<Record<string, unknown>> {
  const msg = await nc["galaxy-cli"].request(`$JS.API.CONSUMER.INFO.EVENTS.${durable}`, "", { timeout: 3_000 });
  const body = json(msg.data);
  if (typeof body !== "object" || body === null || "error" in body) throw new Error(`no consumer ${durable}: ${JSON.stringify(body)}`);
  return { ...body };
}

async function eventually(check: () => Promise<boolean> | boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await delay(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function agent(workspaceId: string): Agent {
  const now = new Date().toISOString();
  return {
    id: randomUUID(), workspaceId, status: "draft", version: 1, createdBy: randomUUID(), createdAt: now, updatedAt: now,
    name: "Summarizer", description: null, provider: "openai", model: "galaxy-dev-echo", systemPrompt: "Summarize.",
    temperature: null, maxTokens: null, tools: [], knowledgeBaseIds: [], inputSchema: null, outputSchema: null, timeoutMs: null, notifyUrl: null,
  };
}

function agentCreated(workspaceId: string, claim: string): StoredEvent {
  const id = randomUUID();
  return {
    id, workspaceId, type: "agent.created", schemaVersion: 1,
    payload: { id, type: "agent.created", occurredAt: new Date().toISOString(), workspaceId, actor: { type: "user", id: randomUUID() }, data: { agent: agent(workspaceId) } },
    context: { claim, traceparent: incomingTraceparent(), correlationId: randomUUID(), causationId: randomUUID() },
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "galaxy-nats-permissions-"));
  const port = await freePort();
  server = startServer(await configCopy(dir), port, { ...process.env, ...passwordEnv });
  await waitForPort(server, port);
  for (const user of USERS) nc[user] = await raw(user);
  // Every later test needs the streams; the first test below checks what this did.
  await (await bus("galaxy-cli")).provision();
  claims = await TestClaims.create();
  identityBus = await bus("identity");
  // Identity's requests the other services make on their own: its keys and service claims.
  await claims.serve(identityBus);
  registryBus = await bus("agent-registry");
});

afterAll(async () => {
  await Promise.allSettled(buses.map((b) => b.close()));
  await Promise.allSettled(connections.map((c) => c.close()));
  await stopServer(server);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("authentication", () => {
  test("an unknown user, a wrong password and no credentials are refused", async () => {
    const attempts = [
      () => connect({ servers: server.url, user: "intruder", pass: "secret", reconnect: false }),
      () => connect({ servers: server.url, user: "gateway", pass: passwords.identity, reconnect: false }),
      () => connect({ servers: server.url, reconnect: false }),
    ];
    for (const attempt of attempts) {
      const result = await attempt().then(
        async (conn) => {
          await conn.close();
          return "connected";
        },
        (error: unknown) => error,
      );
      expect(result).toBeInstanceOf(AuthorizationError);
    }
  });

  test("the server does not start while a password variable is unset", async () => {
    const storeDir = await mkdtemp(join(tmpdir(), "galaxy-nats-unset-"));
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, ...passwordEnv };
      delete env.NATS_AUDIT_PASSWORD;
      const running = startServer(await configCopy(storeDir), await freePort(), env);
      const code = await new Promise<number | null>((resolve) => running.process.once("exit", resolve));
      expect(code).not.toBe(0);
      expect(running.stderr()).toContain("NATS_AUDIT_PASSWORD");
    } finally {
      await rm(storeDir, { recursive: true, force: true });
    }
  });
});

describe("streams", () => {
  test("galaxy-cli provisions EVENTS and DEAD_LETTERS, and again without harm", async () => {
    const cli = await bus("galaxy-cli");
    await cli.provision();
    for (const [stream, subjects] of [["EVENTS", ["evt.>"]], ["DEAD_LETTERS", ["dlq.>"]]] as const) {
      const info = json((await nc["galaxy-cli"].request(`$JS.API.STREAM.INFO.${stream}`, "", { timeout: 3_000 })).data);
      expect(info).toMatchObject({ config: { name: stream, subjects } });
    }
  });

  test.each(["gateway", "identity", "agent-registry", "execution-worker", "audit"] as const)("%s cannot create, change or delete a stream", async (user) => {
    await expectPublishRefused(user, "$JS.API.STREAM.CREATE.EVENTS", { name: "EVENTS", subjects: [">"] });
    await expectPublishRefused(user, "$JS.API.STREAM.UPDATE.EVENTS", { name: "EVENTS", subjects: [">"] });
    await expectPublishRefused(user, "$JS.API.STREAM.DELETE.EVENTS");
    await expectPublishRefused(user, "$JS.API.STREAM.PURGE.EVENTS");
  });

  test("galaxy-cli cannot delete or purge a stream either", async () => {
    await expectPublishRefused("galaxy-cli", "$JS.API.STREAM.DELETE.EVENTS");
    await expectPublishRefused("galaxy-cli", "$JS.API.STREAM.PURGE.DEAD_LETTERS");
  });
});

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
    // Audit runs and records replays and redrives (issue 6): their events are its own.
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

  test.each(rows)("%s publishing %s: allowed %s", async (user, type, allowed) => {
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

  test("libs/bus's publishEvent gets JetStream's ack for the registry's own event", async () => {
    const ws = randomUUID();
    const event = agentCreated(ws, await claims.sign({ ws }));
    await registryBus.publishEvent(event);
    expect(await lastMessage("EVENTS", `evt.${ws}.agent.created`)).toMatchObject({ subject: `evt.${ws}.agent.created` });
  });

  test("nobody but the owner publishes dead letters, signals or live deltas", async () => {
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
  test("the worker's live deltas reach the gateway and its wake-ups reach the other instances", async () => {
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

  test("an execution's events reach the gateway's SSE streams, and a cancel reaches the other worker instances", async () => {
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

  test("the invalidations the gateway and the worker listen for reach them on core NATS", async () => {
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

  test("trigger and agent changes reach the gateway's trigger cache, and agent changes the registry's schedules", async () => {
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

  test("a signing key's revocation reaches every service that verifies tokens or claims", async () => {
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

  test.each([
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
  ] as const)("%s subscribing %s (queue %s) is refused", async (user, subject, queue) => {
    await expectSubscribeRefused(user, subject, queue);
  });
});

describe("requests", () => {
  // Raw responders in each service's own queue group, answering as the service would
  // (identity's keys and service claims are served through libs/bus, above).
  const served: Array<[User, string, string]> = [
    ["identity", "svc.identity.credentials.resolve", "identity"],
    ["identity", "svc.identity.api_keys.authenticate", "identity"],
    ["identity", "svc.identity.claims.issue", "identity"],
    ["agent-registry", "svc.registry.triggers.resolve", "agent-registry"],
    ["agent-registry", "svc.registry.knowledge.search", "agent-registry"],
    ["agent-registry", "svc.registry.agents.get", "agent-registry"],
    ["agent-registry", "svc.registry.agents.notify_secret", "agent-registry"],
    ["execution-worker", "svc.execution.start", "execution-worker"],
    ["execution-worker", "svc.execution.tools.secret", "execution-worker"],
    ["audit", "svc.audit.logs.list", "audit"],
    ["audit", "svc.audit.security_incidents.list", "audit"],
    ["audit", "svc.audit.logs.verify", "audit"],
    ["audit", "svc.audit.retention.apply", "audit"],
    ["audit", "svc.audit.logs.export_page", "audit"],
    ["identity", "svc.identity.operator.>", "identity"],
    ["identity", "svc.identity.claims.operator", "identity"],
    ["identity", "svc.identity.users.sync", "identity"],
    ["audit", "svc.audit.replays.start", "audit"],
    ["audit", "svc.audit.dead_letters.redrive", "audit"],
    ["execution-worker", "svc.execution.replay.apply", "execution-worker"],
    ["execution-worker", "svc.execution.replay.reset", "execution-worker"],
    ["execution-worker", "svc.execution.dlq.redrive", "execution-worker"],
    ["agent-registry", "svc.registry.dlq.redrive", "agent-registry"],
  ];

  beforeAll(async () => {
    for (const [user, subject, queue] of served) {
      nc[user].subscribe(subject, { queue, callback: (_error, msg) => {
        msg.respond(JSON.stringify({ ok: true, servedBy: user }));
      } });
    }
    await Promise.all(USERS.map((user) => nc[user].flush()));
  });

  // [who, request, may make]
  const rows: Array<[User, string, boolean]> = [
    ["execution-worker", "svc.identity.credentials.resolve", true],
    ["gateway", "svc.identity.credentials.resolve", false],
    // The registry embeds knowledge documents with the workspace's key (identity refuses it the Anthropic key).
    ["agent-registry", "svc.identity.credentials.resolve", true],
    ["audit", "svc.identity.credentials.resolve", false],
    ["galaxy-cli", "svc.identity.credentials.resolve", false],
    ["gateway", "svc.registry.triggers.resolve", true],
    ["execution-worker", "svc.registry.triggers.resolve", false],
    ["audit", "svc.registry.triggers.resolve", false],
    ["galaxy-cli", "svc.registry.triggers.resolve", false],
    ["galaxy-cli", "svc.registry.knowledge.search", false],
    ["execution-worker", "svc.registry.knowledge.search", true],
    ["gateway", "svc.registry.knowledge.search", false],
    ["gateway", "svc.identity.api_keys.authenticate", true],
    ["execution-worker", "svc.identity.api_keys.authenticate", false],
    ["galaxy-cli", "svc.identity.api_keys.authenticate", false],
    ["gateway", "svc.identity.claims.issue", true],
    ["execution-worker", "svc.identity.claims.issue", false],
    ["audit", "svc.identity.claims.issue", false],
    ["execution-worker", "svc.identity.claims.service", true],
    ["agent-registry", "svc.identity.claims.service", true],
    ["audit", "svc.identity.claims.service", true],
    // A webhook delivery has no caller: the gateway publishes it with its own service claim.
    ["gateway", "svc.identity.claims.service", true],
    ["galaxy-cli", "svc.identity.claims.service", false],
    ["gateway", "svc.execution.start", true],
    // An agent's webhook tool secret: asked through the gateway only.
    ["gateway", "svc.execution.tools.secret", true],
    ["audit", "svc.execution.tools.secret", false],
    ["agent-registry", "svc.execution.start", true],
    ["audit", "svc.execution.start", false],
    ["identity", "svc.execution.start", false],
    ["execution-worker", "svc.registry.agents.get", true],
    // A completion callback's signing secret in clear: the worker's alone.
    ["execution-worker", "svc.registry.agents.notify_secret", true],
    ["gateway", "svc.registry.agents.notify_secret", false],
    ["galaxy-cli", "svc.registry.agents.notify_secret", false],
    ["audit", "svc.registry.agents.notify_secret", false],
    ["identity", "svc.registry.agents.notify_secret", false],
    ["audit", "svc.registry.agents.get", false],
    ["gateway", "svc.audit.logs.list", true],
    // Replays and dead letters (issue 6): operators ask audit; audit alone drives a projection's side.
    ["gateway", "svc.audit.replays.start", true],
    ["galaxy-cli", "svc.audit.replays.start", true],
    ["galaxy-cli", "svc.audit.dead_letters.redrive", true],
    ["audit", "svc.execution.replay.apply", true],
    ["audit", "svc.execution.replay.reset", true],
    ["audit", "svc.execution.dlq.redrive", true],
    ["gateway", "svc.execution.replay.apply", false],
    ["gateway", "svc.execution.dlq.redrive", false],
    ["galaxy-cli", "svc.execution.replay.reset", false],
    ["galaxy-cli", "svc.execution.dlq.redrive", false],
    ["agent-registry", "svc.execution.replay.apply", false],
    ["identity", "svc.execution.replay.reset", false],
    // The registry's document indexer takes its dead letters back from audit alone.
    ["audit", "svc.registry.dlq.redrive", true],
    ["gateway", "svc.registry.dlq.redrive", false],
    ["galaxy-cli", "svc.registry.dlq.redrive", false],
    ["execution-worker", "svc.registry.dlq.redrive", false],
    ["identity", "svc.registry.dlq.redrive", false],
    // The CLI's operator claim: galaxy-cli's alone, like every svc.identity.operator.* request.
    ["galaxy-cli", "svc.identity.operator.claim", true],
    ["gateway", "svc.identity.operator.claim", false],
    ["audit", "svc.identity.operator.claim", false],
    ["galaxy-cli", "svc.audit.logs.list", true],
    ["execution-worker", "svc.audit.logs.list", false],
    ["gateway", "svc.audit.logs.verify", true],
    ["galaxy-cli", "svc.audit.logs.verify", true],
    ["gateway", "svc.audit.logs.export_page", true],
    ["agent-registry", "svc.audit.logs.export_page", false],
    ["galaxy-cli", "svc.audit.retention.apply", true],
    ["execution-worker", "svc.audit.retention.apply", false],
    // Operator requests carry no claim: only the CLI's user may make them.
    ["galaxy-cli", "svc.identity.operator.grant_system_admin", true],
    ["galaxy-cli", "svc.identity.operator.keys.rotate", true],
    ["galaxy-cli", "svc.identity.operator.keys.revoke", true],
    ["gateway", "svc.identity.operator.grant_system_admin", false],
    ["gateway", "svc.identity.operator.keys.rotate", false],
    ["gateway", "svc.identity.operator.keys.revoke", false],
    ["agent-registry", "svc.identity.operator.keys.revoke", false],
    ["execution-worker", "svc.identity.operator.grant_system_admin", false],
    ["audit", "svc.identity.operator.keys.rotate", false],
    ["identity", "svc.identity.operator.keys.list", false],
    // A system admin's token for an operator claim: the gateway's, for /api/admin/*.
    ["gateway", "svc.identity.claims.operator", true],
    ["galaxy-cli", "svc.identity.claims.operator", false],
    ["execution-worker", "svc.identity.claims.operator", false],
    ["audit", "svc.identity.claims.operator", false],
    // User sync carries no claim; the gateway verified the provider's webhook signature.
    ["gateway", "svc.identity.users.sync", true],
    ["galaxy-cli", "svc.identity.users.sync", false],
    ["execution-worker", "svc.identity.users.sync", false],
    ["agent-registry", "svc.identity.users.sync", false],
    ["audit", "svc.identity.users.sync", false],
    ["gateway", "svc.audit.security_incidents.list", true],
    ["execution-worker", "svc.audit.security_incidents.list", false],
  ];

  test.each(rows)("%s requesting %s: allowed %s", async (user, subject, allowed) => {
    if (allowed) {
      // Any reply means the request reached its server (the served claims.service answers a
      // validation error to this empty payload).
      expect(await outcome(nc[user], subject)).toHaveProperty("reply");
    } else {
      await expectPublishRefused(user, subject);
    }
  });

  test("identity serves its own request through libs/bus, and the services that verify claims can ask for its keys", async () => {
    for (const user of ["gateway", "agent-registry", "execution-worker", "audit"] as const) {
      const b = await bus(user);
      await expect(b.request("identity.jwks", {})).resolves.toEqual(claims.jwks);
    }
  });

  test("a service cannot answer on another's behalf: replies are only to requests it received", async () => {
    await expectPublishRefused("agent-registry", "_INBOX.forged.reply");
    await expectPublishRefused("gateway", "_INBOX.forged.reply");
  });
});

describe("durable consumers", () => {
  test("audit and the worker consume their own durables through libs/bus, ack, and write their own dead letters", async () => {
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

  test("the worker cannot widen its durable's filter or touch audit's durable", async () => {
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

  test("the worker's callback durable reads execution events only, and no one else takes its messages", async () => {
    await expectPublishRefused("execution-worker", "$JS.API.CONSUMER.CREATE.EVENTS.execution-worker-callbacks.evt.>", create("execution-worker-callbacks", "evt.>"));
    const widened = await outcome(nc["execution-worker"], "$JS.API.CONSUMER.CREATE.EVENTS.execution-worker-callbacks.evt.*.execution.>", create("execution-worker-callbacks", "evt.>"));
    expect(widened).toMatchObject({ reply: { error: { err_code: 10131 } } });
    await expectPublishRefused("galaxy-cli", "$JS.API.CONSUMER.MSG.NEXT.EVENTS.execution-worker-callbacks", { batch: 1 });
    await expectPublishRefused("galaxy-cli", "$JS.API.CONSUMER.DELETE.EVENTS.execution-worker-callbacks");
    await expectPublishRefused("agent-registry", "$JS.API.CONSUMER.MSG.NEXT.EVENTS.execution-worker-callbacks", { batch: 1 });
  });

  test("the registry consumes document.added through its own durable, through libs/bus, and acks", async () => {
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

  test("the registry's one durable indexes added documents: it cannot widen its filter or take another's", async () => {
    await expectPublishRefused("agent-registry", "$JS.API.CONSUMER.CREATE.EVENTS.agent-registry-documents.evt.>", create("agent-registry-documents", "evt.>"));
    await expectPublishRefused("agent-registry", "$JS.API.CONSUMER.CREATE.EVENTS.agent-registry-documents", create("agent-registry-documents", ">"));
    await expectPublishRefused("agent-registry", "$JS.API.CONSUMER.MSG.NEXT.EVENTS.execution-worker-agents", { batch: 1 });
    await expectPublishRefused("agent-registry", "$JS.ACK.EVENTS.audit.1.1.1.1.0");
    const widened = await outcome(nc["agent-registry"], "$JS.API.CONSUMER.CREATE.EVENTS.agent-registry-documents.evt.*.document.added", create("agent-registry-documents", "evt.>"));
    expect(widened).toMatchObject({ reply: { error: { err_code: 10131 } } });
    await expectPublishRefused("galaxy-cli", "$JS.API.CONSUMER.MSG.NEXT.EVENTS.agent-registry-documents", { batch: 1 });
    await expectPublishRefused("galaxy-cli", "$JS.API.CONSUMER.DELETE.EVENTS.agent-registry-documents");
  });

  test("the worker runs execution-worker-webhooks through libs/bus, on webhook deliveries alone; the CLI cannot take its messages", async () => {
    const worker = await bus("execution-worker");
    await worker.consume({ durable: "execution-worker-webhooks", filter: "evt.*.webhook.received", handler: async () => undefined });
    expect(await consumerInfo("execution-worker-webhooks")).toMatchObject({ config: { filter_subject: "evt.*.webhook.received" } });
    await expectPublishRefused("execution-worker", "$JS.API.CONSUMER.CREATE.EVENTS.execution-worker-webhooks.evt.>", create("execution-worker-webhooks", "evt.>"));
    const widened = await outcome(nc["execution-worker"], "$JS.API.CONSUMER.CREATE.EVENTS.execution-worker-webhooks.evt.*.webhook.received", create("execution-worker-webhooks", "evt.>"));
    expect(widened).toMatchObject({ reply: { error: { err_code: 10131 } } });
    await expectPublishRefused("galaxy-cli", "$JS.API.CONSUMER.MSG.NEXT.EVENTS.execution-worker-webhooks", { batch: 1 });
    await expectPublishRefused("gateway", "$JS.API.CONSUMER.MSG.NEXT.EVENTS.execution-worker-webhooks", { batch: 1 });
  });

  test("the gateway, identity and the registry keep no other consumers and read no stream", async () => {
    for (const user of ["gateway", "identity", "agent-registry"] as const) {
      await expectPublishRefused(user, `$JS.API.CONSUMER.CREATE.EVENTS.${user}-reader.evt.>`, create(`${user}-reader`, "evt.>"));
      await expectPublishRefused(user, "$JS.API.CONSUMER.MSG.NEXT.EVENTS.audit", { batch: 1 });
      await expectPublishRefused(user, "$JS.API.STREAM.MSG.GET.EVENTS", { last_by_subj: "evt.>" });
    }
  });

  test("audit reads EVENTS and DEAD_LETTERS through ordered consumers of its own (replays, the dead-letter index), never through another service's durable", async () => {
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

  test("galaxy-cli reads the streams through consumers of its own, never through a service's durable", async () => {
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

test("every user in the configuration is exercised here", async () => {
  const config = await readFile(CONFIG, "utf8");
  const configured = [...config.matchAll(/\{\s*user:\s*"([^"]+)"/g)].map((m) => m[1]).sort();
  expect(configured).toEqual([...USERS].sort());
});
