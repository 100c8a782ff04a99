import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager, type StoredMsg } from "@nats-io/jetstream";
import { v7 as uuidv7 } from "uuid";
import { GalaxyError, type Agent, type EventEnvelope, type Execution } from "@galaxy/contracts";
import type { TestEnv } from "@galaxy/testkit";
import { streamName } from "../src/names";
import type { StoredEvent } from "../src/types";
import { incomingTraceparent } from "@galaxy/testkit";

/** An agent as the registry would hold it, in `workspaceId`. */
export function agent(workspaceId: string, overrides: Partial<Agent> = {}): Agent {
  const now = new Date().toISOString();
  return {
    id: uuidv7(), workspaceId, status: "draft", version: 1, createdBy: uuidv7(), createdAt: now, updatedAt: now, name: "Summarizer", description: null,
    provider: "openai", model: "galaxy-dev-echo", systemPrompt: "Summarize.", temperature: null, maxTokens: null, tools: [], knowledgeBaseIds: [],
    inputSchema: null, outputSchema: null, timeoutMs: null, notifyUrl: null,
    ...overrides,
  };
}

export function execution(workspaceId: string, id: string): Execution {
  return {
    id, workspaceId, agentId: uuidv7(), agentVersion: 1, status: "queued", trigger: { type: "manual" }, input: { message: "hi" }, output: null, error: null,
    usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0, costUsd: 0 }, durationMs: null, createdAt: new Date().toISOString(), startedAt: null, completedAt: null,
  };
}

/** An `agent.created` event as the outbox would store it; `payload` parts may be overridden. */
export function agentCreated(workspaceId: string, claim: string, payload: Partial<EventEnvelope> = {}): StoredEvent {
  const id = uuidv7();
  return {
    id,
    workspaceId,
    type: "agent.created",
    schemaVersion: 1,
    payload: { id, type: "agent.created", occurredAt: new Date().toISOString(), workspaceId, actor: { type: "user", id: uuidv7() }, data: { agent: agent(workspaceId) }, ...payload },
    context: { claim, traceparent: incomingTraceparent(), correlationId: uuidv7(), causationId: uuidv7() },
  };
}

export const decode = (data: Uint8Array): unknown => JSON.parse(new TextDecoder().decode(data));

/** The error a promise rejects with, which must be a `GalaxyError`. */
export async function rejection(promise: Promise<unknown>): Promise<GalaxyError> {
  const outcome = await promise.then(
    () => new Error("expected the promise to reject"),
    (error: unknown) => error,
  );
  if (outcome instanceof GalaxyError) return outcome;
  throw outcome;
}

/**
 * A NATS connection of the test's own, beside the buses under test: it reads streams and
 * consumers through JetStream's API and publishes what a stranger on the bus would.
 */
export class StreamInspector {
  private constructor(readonly nc: NatsConnection, readonly jsm: JetStreamManager, readonly js: JetStreamClient, private readonly prefix: string) {}

  static async open(env: TestEnv): Promise<StreamInspector> {
    const nc = await connect({ servers: env.natsUrl });
    return new StreamInspector(nc, await jetstreamManager(nc), jetstream(nc), env.busPrefix);
  }

  stream(name: "EVENTS" | "DEAD_LETTERS"): string {
    return streamName(this.prefix, name);
  }

  subject(subject: string): string {
    return `${this.prefix}.${subject}`;
  }

  /** Every dead letter a consumer wrote, oldest first. */
  async deadLetters(durable: string): Promise<StoredMsg[]> {
    const stream = this.stream("DEAD_LETTERS");
    const info = await this.jsm.streams.info(stream);
    const out: StoredMsg[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const msg = await this.jsm.streams.getMessage(stream, { seq }).catch(() => null);
      if (msg && msg.subject.startsWith(this.subject(`dlq.${durable}.`))) out.push(msg);
    }
    return out;
  }

  /** What a durable consumer has still to take (`pending`) and has taken but not acked (`ackPending`). */
  async consumerState(durable: string): Promise<{ pending: number; ackPending: number }> {
    const info = await this.jsm.consumers.info(this.stream("EVENTS"), durable);
    return { pending: info.num_pending, ackPending: info.num_ack_pending };
  }

  /** How many messages JetStream has redelivered to a durable consumer (after an ack wait passed, or a nak). */
  async redelivered(durable: string): Promise<number> {
    return (await this.jsm.consumers.info(this.stream("EVENTS"), durable)).num_redelivered;
  }

  async close(): Promise<void> {
    await this.nc.close();
  }
}
