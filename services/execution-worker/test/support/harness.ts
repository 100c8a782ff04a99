import { v7 as uuidv7 } from "uuid";
import type { Bus } from "@galaxy/bus";
import { NotFoundError, parseEvent, type ResolvedCredential, type Agent, type Execution, type EventType, type EventData, type TypedEvent } from "@galaxy/contracts";
import { inWorkspace, type Kysely } from "@galaxy/db";
import { startDevModel, type RunningDevModel } from "@galaxy/dev-model/testing";
import { connectTestBus, createTestEnv, serviceDb, testLogger, TestClaims, type EngineUrls, type TestEnv, incomingTraceparent } from "@galaxy/testkit";
import { findPinnableAgent } from "../../src/agents/agents.repository";
import { createExecutionWorker, type ExecutionWorker, type ExecutionWorkerConfig } from "../../src/app";
import type { ExecutionDb } from "../../src/db";
import { findExecution, listSteps, type ExecutionRow } from "../../src/executions/executions.repository";

/**
 * The agent-registry as the worker sees it: `registry.agents.get` answered from what it holds,
 * and `agent.*` events published the way the registry publishes them.
 */
export class FakeRegistry {
  readonly agents = new Map<string, Agent>();
  /** How many `registry.agents.get` requests it answered. */
  gets = 0;

  constructor(private readonly bus: Bus, private readonly claims: TestClaims) {}

  serve(): void {
    this.bus.serve("registry.agents.get", async (request, ctx) => {
      this.gets += 1;
      const agent = this.agents.get(request.id);
      if (!agent || agent.workspaceId !== ctx.claim?.ws) throw new NotFoundError("agent", request.id);
      return agent;
    });
  }

  /** Holds an agent without publishing anything: its events have not reached the worker yet. */
  put(workspaceId: string, overrides: Partial<Agent> = {}): Agent {
    const now = new Date().toISOString();
    const agent: Agent = {
      id: uuidv7(),
      workspaceId,
      status: "draft",
      version: 1,
      createdBy: uuidv7(),
      createdAt: now,
      updatedAt: now,
      name: "Echo",
      description: null,
      provider: "openai",
      model: "galaxy-dev-echo",
      systemPrompt: "You repeat what you are told.",
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
    this.agents.set(agent.id, agent);
    return agent;
  }

  /** Creates a draft agent and publishes `agent.created`; returns the agent and the event's envelope. */
  async create(workspaceId: string, overrides: Partial<Agent> = {}): Promise<{ agent: Agent; envelope: Envelope<"agent.created"> }> {
    const agent = this.put(workspaceId, overrides);
    const envelope = await this.publish(workspaceId, "agent.created", { agent }, agent.createdBy);
    return { agent, envelope };
  }

  /** Activates an agent and publishes `agent.activated`. */
  async activate(agentId: string): Promise<Envelope<"agent.activated">> {
    const agent = this.agents.get(agentId);
    if (!agent) throw new Error(`no agent ${agentId}`);
    const updated: Agent = { ...agent, status: "active", updatedAt: new Date().toISOString() };
    this.agents.set(agentId, updated);
    return this.publish(agent.workspaceId, "agent.activated", { agentId, version: agent.version, status: "active", before: agent.status }, agent.createdBy);
  }

  /** Creates and activates an agent, both events published. */
  async createActive(workspaceId: string, overrides: Partial<Agent> = {}): Promise<Agent> {
    const { agent } = await this.create(workspaceId, overrides);
    await this.activate(agent.id);
    const active = this.agents.get(agent.id);
    if (!active) throw new Error("the agent vanished");
    return active;
  }

  /**
   * Publishes an event as the registry's outbox would. `messageId` other than the envelope's id
   * makes a copy JetStream does not deduplicate: a replay or a late redelivery.
   */
  async publish<T extends EventType>(workspaceId: string, type: T, data: EventData<T>, actorId: string, options: { envelope?: Envelope<T>; messageId?: string } = {}): Promise<Envelope<T>> {
    const envelope: Envelope<T> = options.envelope ?? { id: uuidv7(), type, occurredAt: new Date().toISOString(), workspaceId, actor: { type: "user", id: actorId }, data };
    const claim = await this.claims.sign({ ws: workspaceId, sub: actorId, role: "owner" });
    const correlationId = uuidv7();
    await this.bus.publishEvent({
      id: options.messageId ?? envelope.id,
      workspaceId,
      type,
      schemaVersion: 1,
      payload: envelope,
      context: { claim, traceparent: incomingTraceparent(), correlationId, causationId: correlationId },
    });
    return envelope;
  }
}

export interface Envelope<T extends EventType> {
  id: string;
  type: T;
  occurredAt: string;
  workspaceId: string;
  actor: { type: "user"; id: string };
  data: EventData<T>;
}

/** Every execution event seen on the bus (core subscription, as every instance sees them). */
export class SeenEvents {
  readonly all: TypedEvent[] = [];

  constructor(bus: Bus) {
    bus.subscribeCore("evt.*.execution.>", (data) => {
      const parsed = parseEvent(data);
      if (parsed.ok) this.all.push(parsed.event);
    });
  }

  of(executionId: string): TypedEvent[] {
    return this.all.filter((event) => executionIdOf(event) === executionId);
  }

  /** Waits for an event of `type` about `executionId`. */
  async waitFor(executionId: string, type: EventType, timeoutMs = 10_000): Promise<TypedEvent> {
    return eventually(() => this.of(executionId).find((event) => event.type === type), timeoutMs, `${type} of ${executionId}`);
  }
}

function executionIdOf(event: TypedEvent): string | null {
  switch (event.type) {
    case "execution.queued":
    case "execution.completed":
    case "execution.failed":
      return event.data.execution.id;
    case "execution.started":
      return event.data.executionId;
    default:
      return null;
  }
}

/** Polls `probe` until it gives a value (tests only: the code under test never polls). */
export async function eventually<T>(probe: () => T | undefined | null | Promise<T | undefined | null>, timeoutMs = 10_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A worker instance of its own (its own bus connection and pool), as another process would be. */
export interface WorkerInstance {
  worker: ExecutionWorker;
  bus: Bus;
  db: Kysely<ExecutionDb>;
  /** Stops it the way `main.ts` does: intake, in-flight work, connection, pool. */
  stop(): Promise<void>;
}

/** The identity service as the others see it: its two requests, which a test can take away. */
export interface IdentityStandIn {
  /** Nothing answers identity's subjects any more (NATS: no responders). */
  stop(): Promise<void>;
  /** Identity answers again. */
  start(): Promise<void>;
  /** What `identity.credentials.resolve` answers, by `<workspaceId>:<provider>`; none: 404. */
  credentials: Map<string, ResolvedCredential>;
  /** The `identity.credentials.resolve` requests it answered. */
  resolves: number;
}

export interface Harness {
  env: TestEnv;
  db: Kysely<ExecutionDb>;
  claims: TestClaims;
  identity: IdentityStandIn;
  /** The worker's own bus connection. */
  bus: Bus;
  /** A gateway-like caller. */
  caller: Bus;
  registry: FakeRegistry;
  events: SeenEvents;
  devModel: RunningDevModel;
  worker: ExecutionWorker;
  /** Stops the worker the way `main.ts` does: intake, in-flight work, connection. */
  stopWorker(): Promise<void>;
  /** Starts one more worker instance; `close()` stops it if the test did not. */
  spawnWorker(config?: Partial<ExecutionWorkerConfig>): Promise<WorkerInstance>;
  /** Creates an active agent and waits until the worker's projection has it. */
  activeAgent(workspaceId: string, overrides?: Partial<Agent>): Promise<Agent>;
  /** `execution.start` as a member of the workspace. */
  startExecution(workspaceId: string, agentId: string, input?: unknown): Promise<Execution>;
  /** The stored row of an execution. */
  row(workspaceId: string, executionId: string): Promise<ExecutionRow>;
  /** The statuses of an execution's steps, oldest first. */
  stepStatuses(workspaceId: string, executionId: string): Promise<string[]>;
  close(): Promise<void>;
}

/** One test file's world: engines of its own, identity's claims, a fake registry, the dev model and a running worker. */
export async function startHarness(engines: EngineUrls, config: Partial<ExecutionWorkerConfig> = {}): Promise<Harness> {
  const env = await createTestEnv(engines);
  const claims = await TestClaims.create();
  const identity = await identityStandIn(env, claims);
  const registryBus = await connectTestBus(env, "agent-registry");
  const registry = new FakeRegistry(registryBus, claims);
  registry.serve();
  const caller = await connectTestBus(env, "gateway");
  const events = new SeenEvents(caller);
  const devModel = await startDevModel();
  const db = serviceDb<ExecutionDb>(env, "execution-worker");
  const workerConfig = (overrides: Partial<ExecutionWorkerConfig>): ExecutionWorkerConfig => ({
    openaiApiKey: "galaxy-dev",
    openaiBaseUrl: `${devModel.url}/v1`,
    anthropicApiKey: "galaxy-dev",
    anthropicBaseUrl: devModel.url,
    googleApiKey: "galaxy-dev",
    googleBaseUrl: devModel.url,
    maxRetries: 0,
    ...config,
    ...overrides,
  });
  const bus = await connectTestBus(env, "execution-worker");
  const worker = createExecutionWorker({ db, bus, logger: testLogger("execution-worker"), config: workerConfig({}) });
  await worker.start();
  let workerStopped = false;
  const stopWorker = async () => {
    if (workerStopped) return;
    workerStopped = true;
    await bus.stopIntake();
    await worker.stop();
    await bus.close();
  };

  const spawned: WorkerInstance[] = [];
  const spawnWorker = async (overrides: Partial<ExecutionWorkerConfig> = {}): Promise<WorkerInstance> => {
    const ownDb = serviceDb<ExecutionDb>(env, "execution-worker");
    const ownBus = await connectTestBus(env, "execution-worker");
    const instance = createExecutionWorker({ db: ownDb, bus: ownBus, logger: testLogger("execution-worker"), config: workerConfig(overrides) });
    await instance.start();
    let stopped = false;
    const handle: WorkerInstance = {
      worker: instance,
      bus: ownBus,
      db: ownDb,
      async stop() {
        if (stopped) return;
        stopped = true;
        await ownBus.stopIntake();
        await instance.stop();
        await ownBus.close();
        await ownDb.destroy();
      },
    };
    spawned.push(handle);
    return handle;
  };

  return {
    env,
    db,
    claims,
    identity,
    bus,
    caller,
    registry,
    events,
    devModel,
    worker,
    stopWorker,
    spawnWorker,
    async activeAgent(workspaceId, overrides = {}) {
      const agent = await registry.createActive(workspaceId, overrides);
      await eventually(async () => {
        const known = await inWorkspace(db, workspaceId, (tx) => findPinnableAgent(tx, agent.id));
        return known?.status === "active" ? known : null;
      }, 10_000, `agent ${agent.id} in the projection`);
      return agent;
    },
    async startExecution(workspaceId, agentId, input = { message: "hello" }) {
      return caller.request("execution.start", { agentId, input }, { claim: await claims.sign({ ws: workspaceId, role: "member" }), workspaceId });
    },
    async row(workspaceId, executionId) {
      const row = await inWorkspace(db, workspaceId, (tx) => findExecution(tx, executionId));
      if (!row) throw new Error(`no execution ${executionId}`);
      return row;
    },
    async stepStatuses(workspaceId, executionId) {
      return (await inWorkspace(db, workspaceId, (tx) => listSteps(tx, executionId))).map((step) => step.status);
    },
    async close() {
      await Promise.allSettled([stopWorker(), ...spawned.map((instance) => instance.stop())]);
      await db.destroy();
      await Promise.allSettled([caller.close(), registryBus.close(), identity.stop()]);
      await closeDevModel(devModel);
      await env.cleanup();
    },
  };
}

/**
 * Closes a dev model server at once. Every worker has stopped by then; a connection an aborted
 * model call left behind (opened, never written to) would otherwise hold `close()` until
 * Node's headers timeout.
 */
export async function closeDevModel(devModel: RunningDevModel): Promise<void> {
  const closing = devModel.close();
  devModel.app.server.closeAllConnections();
  await closing;
}

/** Serves `svc.identity.jwks` and `svc.identity.claims.service` with `claims`, on a connection a test can close. */
async function identityStandIn(env: TestEnv, claims: TestClaims): Promise<IdentityStandIn> {
  let bus: Bus | undefined;
  const standIn: IdentityStandIn = {
    async stop() {
      const current = bus;
      bus = undefined;
      await current?.close();
    },
    async start() {
      if (bus) return;
      bus = await connectTestBus(env, "identity");
      await claims.serve(bus);
      bus.serve("identity.credentials.resolve", async (request, ctx) => {
        standIn.resolves += 1;
        const credential = standIn.credentials.get(`${ctx.claim?.ws ?? ""}:${request.provider}`);
        if (!credential) throw new NotFoundError("provider credential", request.provider, "credential_not_found");
        return credential;
      });
    },
    credentials: new Map(),
    resolves: 0,
  };
  await standIn.start();
  return standIn;
}
