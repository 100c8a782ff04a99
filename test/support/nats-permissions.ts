import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, test as base } from "vitest";
import { connect, PermissionViolationError, RequestError, type NatsConnection } from "@nats-io/transport-node";
import { Bus, type StoredEvent } from "@galaxy/bus";
import type { Agent } from "@galaxy/contracts";
import { freePort, incomingTraceparent, TestClaims, testLogger } from "@galaxy/testkit";

/**
 * The production NATS configuration (infra/nats/nats-server.conf), run by a nats-server of
 * each test file's own: each service and the CLI can do their own work over it, and nothing
 * else. Every refusal is asserted as the server's permission violation, so a rule loosened in
 * the configuration turns its row red (an answer, an ack or a live subscription instead).
 */

export const CONFIG = fileURLToPath(new URL("../../infra/nats/nats-server.conf", import.meta.url));
const NATS_SERVER = "/usr/sbin/nats-server";

const PASSWORD_VARS = {
  gateway: "NATS_GATEWAY_PASSWORD",
  identity: "NATS_IDENTITY_PASSWORD",
  "agent-registry": "NATS_AGENT_REGISTRY_PASSWORD",
  "execution-worker": "NATS_EXECUTION_WORKER_PASSWORD",
  audit: "NATS_AUDIT_PASSWORD",
  "galaxy-cli": "NATS_GALAXY_CLI_PASSWORD",
} as const;
export type User = keyof typeof PASSWORD_VARS;
export const USERS = Object.keys(PASSWORD_VARS) as User[];

// A letter, then hex: the server parses the variable's value as a config value (see the config).
export const passwords = Object.fromEntries(USERS.map((user) => [user, `p${randomBytes(24).toString("hex")}`])) as Record<User, string>;
export const passwordEnv = Object.fromEntries(USERS.map((user) => [PASSWORD_VARS[user], passwords[user]]));

export interface RunningServer {
  url: string;
  process: ChildProcess;
  stderr: () => string;
}

const decoder = new TextDecoder();
export const json = (data: Uint8Array): unknown => JSON.parse(decoder.decode(data));

/** A copy of the configuration whose JetStream store is `storeDir` (the server refuses `-sd` beside `store_dir`). */
export async function configCopy(storeDir: string): Promise<string> {
  const original = await readFile(CONFIG, "utf8");
  const copy = original.replace(/^(\s*)store_dir:.*$/m, `$1store_dir: ${JSON.stringify(storeDir)}`);
  if (copy === original) throw new Error("nats-server.conf has no store_dir line to point at the test's directory");
  const path = join(storeDir, "nats-server.conf");
  await writeFile(path, copy);
  return path;
}

export function startServer(configPath: string, port: number, env: NodeJS.ProcessEnv): RunningServer {
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

export const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What became of a request: its reply, or the error it was rejected with. */
export async function outcome(conn: NatsConnection, subject: string, body: unknown = {}): Promise<{ reply: unknown } | { error: unknown }> {
  // Without the shared inbox: a pulled message arrives under its own subject, not the inbox's.
  return conn.request(subject, JSON.stringify(body), { timeout: 3_000, noMux: true }).then(
    (msg) => ({ reply: msg.data.length > 0 ? json(msg.data) : { status: msg.headers?.code } }),
    (error: unknown) => ({ error }),
  );
}

export async function eventually(check: () => Promise<boolean> | boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await delay(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

export function agent(workspaceId: string): Agent {
  const now = new Date().toISOString();
  return {
    id: randomUUID(), workspaceId, status: "draft", version: 1, createdBy: randomUUID(), createdAt: now, updatedAt: now,
    name: "Summarizer", description: null, provider: "openai", model: "galaxy-dev-echo", systemPrompt: "Summarize.",
    temperature: null, maxTokens: null, tools: [], knowledgeBaseIds: [], inputSchema: null, outputSchema: null, timeoutMs: null, notifyUrl: null,
  };
}

export function agentCreated(workspaceId: string, claim: string): StoredEvent {
  const id = randomUUID();
  return {
    id, workspaceId, type: "agent.created", schemaVersion: 1,
    payload: { id, type: "agent.created", occurredAt: new Date().toISOString(), workspaceId, actor: { type: "user", id: randomUUID() }, data: { agent: agent(workspaceId) } },
    context: { claim, traceparent: incomingTraceparent(), correlationId: randomUUID(), causationId: randomUUID() },
  };
}

/** The file's own nats-server, one raw connection per user, and the services' bus connections it opened. */
class NatsWorld {
  readonly nc = {} as Record<User, NatsConnection>;
  private readonly connections: NatsConnection[] = [];
  private readonly buses: Bus[] = [];

  constructor(
    readonly server: RunningServer,
    private readonly dir: string,
  ) {}

  async raw(user: User, password = passwords[user]): Promise<NatsConnection> {
    const conn = await connect({ servers: this.server.url, user, pass: password, name: `test-${user}`, reconnect: false, inboxPrefix: `_INBOX_${user}` });
    this.connections.push(conn);
    return conn;
  }

  async bus(user: User): Promise<Bus> {
    const b = await Bus.connect({ url: this.server.url, service: user, user, password: passwords[user], logger: testLogger(user), requestTimeoutMs: 3_000 });
    this.buses.push(b);
    return b;
  }

  /** Asserts the server refused `user` publishing to `subject` (a publish that a loose rule would let through answers instead). */
  async expectPublishRefused(user: User, subject: string, body: unknown = {}): Promise<void> {
    const result = await outcome(this.nc[user], subject, body);
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
  async expectSubscribeRefused(user: User, subject: string, queue?: string): Promise<void> {
    const sub = this.nc[user].subscribe(subject, queue ? { queue } : {});
    const closed = await Promise.race([sub.closed, delay(2_000).then(() => "still subscribed")]);
    if (closed === "still subscribed") sub.unsubscribe();
    expect(closed, `${user} subscribing ${subject}${queue ? ` in ${queue}` : ""}`).toBeInstanceOf(PermissionViolationError);
    if (closed instanceof PermissionViolationError) expect(closed.operation).toBe("subscription");
  }

  /** The newest message of `stream` on `subject`, as the CLI reads it; null when there is none. */
  async lastMessage(stream: "EVENTS" | "DEAD_LETTERS", subject: string): Promise<{ subject: string; seq: number } | null> {
    const msg = await this.nc["galaxy-cli"].request(`$JS.API.STREAM.MSG.GET.${stream}`, JSON.stringify({ last_by_subj: subject }), { timeout: 3_000 });
    const body = json(msg.data);
    if (typeof body !== "object" || body === null) throw new Error("malformed STREAM.MSG.GET reply");
    if ("error" in body) return null;
    if ("message" in body && typeof body.message === "object" && body.message !== null && "subject" in body.message && "seq" in body.message) {
      return { subject: String(body.message.subject), seq: Number(body.message.seq) };
    }
    throw new Error(`unexpected STREAM.MSG.GET reply ${JSON.stringify(body)}`);
  }

  async consumerInfo(durable: string): Promise<Record<string, unknown>> {
    const msg = await this.nc["galaxy-cli"].request(`$JS.API.CONSUMER.INFO.EVENTS.${durable}`, "", { timeout: 3_000 });
    const body = json(msg.data);
    if (typeof body !== "object" || body === null || "error" in body) throw new Error(`no consumer ${durable}: ${JSON.stringify(body)}`);
    return { ...body };
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.buses.map((b) => b.close()));
    await Promise.allSettled(this.connections.map((c) => c.close()));
    await stopServer(this.server);
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * Once per file: the server, a raw connection per user (`nc`), the streams (provisioned by
 * galaxy-cli; the streams test checks what this did), claims whose keys identity's real bus
 * connection serves (its keys and service claims, which the other services request on their
 * own), and the registry's bus connection. The rest are the world's helpers, bound.
 */
export const test = base
  .extend("world", { scope: "file" }, async ({}, { onCleanup }) => {
    const dir = await mkdtemp(join(tmpdir(), "galaxy-nats-permissions-"));
    const port = await freePort();
    const server = startServer(await configCopy(dir), port, { ...process.env, ...passwordEnv });
    const world = new NatsWorld(server, dir);
    onCleanup(() => world.close());
    await waitForPort(server, port);
    for (const user of USERS) world.nc[user] = await world.raw(user);
    await (await world.bus("galaxy-cli")).provision();
    return world;
  })
  .extend("server", { scope: "file" }, async ({ world }) => world.server)
  .extend("nc", { scope: "file" }, async ({ world }) => world.nc)
  .extend("claims", { scope: "file", auto: true }, async ({ world }) => {
    const claims = await TestClaims.create();
    await claims.serve(await world.bus("identity"));
    return claims;
  })
  .extend("registryBus", { scope: "file", auto: true }, async ({ world, claims }) => {
    void claims;
    return world.bus("agent-registry");
  })
  .extend("raw", { scope: "file" }, async ({ world }) => (user: User, password?: string) => world.raw(user, password))
  .extend("bus", { scope: "file" }, async ({ world }) => (user: User) => world.bus(user))
  .extend("expectPublishRefused", { scope: "file" }, async ({ world }) => (user: User, subject: string, body?: unknown) => world.expectPublishRefused(user, subject, body))
  .extend("expectSubscribeRefused", { scope: "file" }, async ({ world }) => (user: User, subject: string, queue?: string) => world.expectSubscribeRefused(user, subject, queue))
  .extend("lastMessage", { scope: "file" }, async ({ world }) => (stream: "EVENTS" | "DEAD_LETTERS", subject: string) => world.lastMessage(stream, subject))
  .extend("consumerInfo", { scope: "file" }, async ({ world }) => (durable: string) => world.consumerInfo(durable));
