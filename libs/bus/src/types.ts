import type { EventEnvelope, EventType, RawBusMessage, TypedEvent, WorkspaceClaim } from "@galaxy/contracts";
import type { Logger, Registry } from "@galaxy/observability";
import type { NatsAuth, StreamSettings } from "./config";

/** What an event's headers carry beside the claim; matches `EventContext` of libs/db. */
export interface MessageContext {
  claim: string;
  /** The span that caused the event (docs/bus.md, "Headers"); absent outside any trace. */
  traceparent?: string | undefined;
  tracestate?: string | undefined;
  correlationId: string;
  causationId: string;
  clientIp?: string | undefined;
  userAgent?: string | undefined;
}

/** An event ready to publish, as the outbox stores it. */
export interface StoredEvent {
  id: string;
  workspaceId: string;
  type: string;
  schemaVersion: number;
  payload: EventEnvelope;
  context: MessageContext;
}

export interface BusOptions extends NatsAuth {
  url: string;
  /** `GALAXY_BUS_PREFIX`: subjects go under `<prefix>.`, streams under `<PREFIX>_`. */
  prefix?: string;
  /** The service's name: its queue group and the name on its connection. */
  service: string;
  logger: Logger;
  /** Default request timeout (ms). */
  requestTimeoutMs?: number;
  /** Replicas and storage of the streams `provision` creates (docs/bus.md, "Configuration"). */
  streams?: Partial<StreamSettings>;
  /** Where the consumers' retry and dead-letter metrics go; a registry of the bus's own when absent. */
  metrics?: Registry;
}

/** The caller side of a request: claim and trace context to send along. */
export interface RequestOptions {
  claim?: string | undefined;
  workspaceId?: string | undefined;
  traceparent?: string | undefined;
  correlationId?: string | undefined;
  causationId?: string | undefined;
  clientIp?: string | undefined;
  userAgent?: string | undefined;
  timeoutMs?: number;
}

/** What a request handler knows about the request it serves. */
export interface RequestContext {
  /** The verified, unexpired claim; null for requests that need none (sign-up, login, keys). */
  claim: WorkspaceClaim | null;
  /** Builds the context of the events this request causes. Throws when the request carried no claim. */
  eventContext(): MessageContext;
  correlationId: string;
  /** The request's SERVER span, for what the handler sends on; absent outside any trace. */
  traceparent: string | undefined;
  clientIp: string | undefined;
  userAgent: string | undefined;
  /**
   * The NATS user that asked, read off the reply inbox (`_INBOX_<user>.…`), which the server
   * lets only that user receive (infra/nats); undefined where NATS runs without users.
   */
  requester: string | undefined;
  logger: Logger;
}

/** What a consumer's handler knows about the event it applies. */
export interface EventMessage {
  event: TypedEvent;
  claim: WorkspaceClaim;
  claimToken: string;
  subject: string;
  streamSeq: number;
  /** How many times JetStream has delivered this message (redeliveries after a crash or ack wait). */
  deliveryCount: number;
  /** Which attempt of this delivery this is: failures are retried in place, in order. */
  attempt: number;
  replayId: string | undefined;
  headers: { traceparent: string | undefined; tracestate: string | undefined; correlationId: string; causationId: string; clientIp: string | undefined; userAgent: string | undefined };
  /** Context for events derived from this one: same correlation, caused by this event. */
  derivedContext(claim?: string): MessageContext;
  /** Tells JetStream the handler is still at work. */
  working(): void;
  /** The message as it arrived, to hand over in a request or keep for later (`raw-messages.ts`). */
  raw(): RawBusMessage;
}

export interface ConsumerOptions {
  /** Durable consumer name (letters, digits, - and _). */
  durable: string;
  /** Subject filter without prefix, e.g. `evt.*.agent.>`. */
  filter: string;
  handler: (message: EventMessage) => Promise<void>;
  /**
   * The event types the handler applies, when it needs only some of those its filter brings (a
   * consumer has one filter subject on NATS 2.9). The others are acked as they come, unread:
   * not parsed, not verified and not handed to the handler. A forged one is still reported by
   * audit, which reads every event. Replays and redrives (docs/replay.md) still hand the
   * handler every event, so it must keep ignoring the types it does not apply.
   */
  only?: readonly EventType[];
  /**
   * Attempts a message whose handler fails with an *unknown* error (a bug, most likely) gets
   * before it becomes a dead letter (default 5). A transient failure (an engine unreachable)
   * is retried for as long as it lasts and never counts here; a terminal one is a dead letter
   * at once (docs/bus.md, "Retry policy").
   */
  maxDeliveries?: number;
  /** First retry delay; doubles each time, capped at `maxBackoffMs` (default 250 ms). */
  backoffMs?: number;
  /** Longest wait between two attempts (default 30 s). */
  maxBackoffMs?: number;
  /** How long JetStream waits for an ack (or a sign of work) before it redelivers (default 30 s). */
  ackWaitMs?: number;
  /**
   * Binds only to a durable that exists, never creating it (a retired consumer, run while a
   * deployment still has it): `ConsumerNotFoundError` when it does not exist.
   */
  existingOnly?: boolean;
}

/** An event of a batch its handler refused for good, and why: it becomes a dead letter alone. */
export interface BatchRefusal {
  message: EventMessage;
  error: Error;
}

/**
 * Applies a batch of events; answers the events it refused for good (none: nothing, or an
 * empty list). A refusal whose error is not terminal (docs/bus.md, "Retry policy") fails the
 * whole batch instead.
 */
export type BatchHandler = (messages: EventMessage[]) => Promise<void | readonly BatchRefusal[]>;

/**
 * A consumer that applies many events at a time (`Bus.consumeBatch`). The handler gets the
 * events in stream order and they are acked together once it returns, but for those it
 * refused, which become dead letters; it must be idempotent, because after a failure each
 * event of the batch is handed to it again, alone.
 */
export interface BatchConsumerOptions extends Omit<ConsumerOptions, "handler" | "only"> {
  handler: BatchHandler;
  /** Most events in one batch (default 256). */
  maxBatch?: number;
  /** How long a batch that is not full waits for more events (default 2 ms; 0 takes what is there). */
  lingerMs?: number;
}

/** A running durable consumer (`Bus.consume`, `Bus.consumeBatch`). */
export interface ConsumerHandle {
  /** Stops this consumer alone: a retry in progress ends, and what it holds goes back to JetStream. */
  stop(): Promise<void>;
}
