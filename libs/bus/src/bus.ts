import { connect, headers as natsHeaders, nanos, errors as natsErrors, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import { v5 as uuidv5, v7 as uuidv7 } from "uuid";
import type { z } from "zod";
import {
  EVENT_CATALOG, GalaxyError, HEADER, REQUESTS, ReplyEnvelope, SYSTEM_WORKSPACE_ID, UnavailableError, Uuid, ValidationError, WorkspaceId,
  issueDetails, parseEvent, parseEventSubject, requestSubject, type ErrorStatus, type ParsedRequest, type ReplyData, type RequestName, type TypedEvent,
  type WorkspaceClaim, type EventEnvelope, type RawBusMessage,
} from "@galaxy/contracts";
import { childTraceparent, inSpan, newTraceparent, SpanKind, type Logger } from "@galaxy/observability";
import { ClaimCache, ClaimError, ClaimVerifier } from "./claims";
import { TerminalMessageError, isDataException, isRetryable } from "./errors";
import { incomingOf, rawOf, type IncomingMessage } from "./raw-messages";

/** What an event's headers carry beside the claim; matches `EventContext` of libs/db. */
export interface MessageContext {
  claim: string;
  traceparent: string;
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

export interface BusOptions {
  url: string;
  /** `GALAXY_BUS_PREFIX`: subjects go under `<prefix>.`, streams under `<PREFIX>_`. */
  prefix?: string;
  /** The service's name: its queue group and the name on its connection. */
  service: string;
  user?: string | undefined;
  password?: string | undefined;
  logger: Logger;
  /** Default request timeout (ms). */
  requestTimeoutMs?: number;
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
  traceparent: string;
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
  headers: { traceparent: string; correlationId: string; causationId: string; clientIp: string | undefined; userAgent: string | undefined };
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
  /** Deliveries before a failing message becomes a dead letter (default 5). */
  maxDeliveries?: number;
  /** First retry delay; doubles each time, capped at 30 s (default 500 ms). */
  backoffMs?: number;
  /** How long JetStream waits for an ack (or a sign of work) before it redelivers (default 30 s). */
  ackWaitMs?: number;
}

/**
 * A consumer that applies many events at a time (`Bus.consumeBatch`). The handler gets the
 * events in stream order and they are acked together once it returns; it must be idempotent,
 * because after a failure each event of the batch is handed to it again, alone.
 */
export interface BatchConsumerOptions extends Omit<ConsumerOptions, "handler"> {
  handler: (messages: EventMessage[]) => Promise<void>;
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

/** What a consumer's loop shares with the handling of each of its messages. */
interface ConsumerRun {
  stopped: boolean;
  /** True once the bus or this consumer stops: a retry hands its message back instead. */
  stopping(): boolean;
  /** Keeps alive every message the consumer holds besides the one in hand. */
  keepHeld(): void;
  /** How often waiting messages are kept alive between messages: a third of the ack wait. */
  keepAliveEveryMs: number;
}

const DEFAULT_ACK_WAIT_MS = 30_000;
const HEADER_VALUE_LIMIT = 1024;
/** A message redelivered this often without an ack is taken to crash its consumer. */
const POISON_DELIVERIES = 20;
/**
 * Dead-letter reasons that mean a message failed its claim or workspace checks (CONTRACT §3):
 * besides the dead letter, each becomes a `security.forged_message` event.
 */
const SECURITY_FAILURE = /^(forged_claim:[a-z_]+|workspace_mismatch|missing_workspace|bad_subject)$/;
/** Namespace of the report ids: UUIDv5 of consumer, stream and sequence, so a redelivery reports the same event. */
const FORGED_REPORT_NAMESPACE = "6f1d3c52-8a4e-4c1b-9b7e-2f0c5d8a9e31";
/** Tries at reporting a forged message (claim from identity, then publish) before the consumer moves on without it. */
const FORGED_REPORT_ATTEMPTS = 3;
/** How long one try may wait for identity's service claim. */
const FORGED_REPORT_CLAIM_TIMEOUT_MS = 2_000;

/**
 * Galaxy's message bus: the only code that touches the NATS client. Publishes events with
 * every header of CONTRACT §3, serves and makes requests, and runs durable consumers that
 * verify every message before their handler sees it.
 */
export class Bus {
  readonly claims: ClaimVerifier;
  readonly serviceClaims: ClaimCache;
  private readonly subscriptions: Subscription[] = [];
  private readonly consumers: Array<{ stop: () => Promise<void> }> = [];
  private readonly inFlight = new Set<Promise<void>>();
  /** Each durable consumer's handler by name: a replayed or redriven message goes to the same code. */
  private readonly appliers = new Map<string, (message: EventMessage) => Promise<void>>();
  /** The handlers of batch consumers: a replay hands them many messages in one call. */
  private readonly batchAppliers = new Map<string, (messages: EventMessage[]) => Promise<void>>();
  private stopping = false;
  private closed = false;
  private watchingRevocations = false;
  /** False from a lost connection until the client has reconnected (publishes meanwhile would only be buffered). */
  private linkUp = true;

  private constructor(
    readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly options: BusOptions,
    loadJwks?: ClaimVerifierLoader,
    issueServiceClaim?: ServiceClaimIssuer,
  ) {
    this.claims = new ClaimVerifier({ loadJwks: loadJwks ?? (() => this.request("identity.jwks", {})) });
    this.serviceClaims = new ClaimCache(issueServiceClaim ?? ((workspaceId) => this.request("identity.claims.service", { workspaceId, service: options.service })));
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === "disconnect") this.linkUp = false;
        else if (status.type === "reconnect") this.linkUp = true;
      }
    })().catch(() => undefined);
  }

  static async connect(options: BusOptions & { loadJwks?: ClaimVerifierLoader; issueServiceClaim?: ServiceClaimIssuer }): Promise<Bus> {
    const nc = await connect({
      servers: options.url,
      name: `galaxy-${options.service}`,
      maxReconnectAttempts: -1,
      // Replies come to inboxes named after the NATS user, which the server lets only that
      // user read (infra/nats): no one else sees a resolved credential or an API key's claim.
      ...(options.user ? { user: options.user, pass: options.password ?? "", inboxPrefix: `_INBOX_${options.user}` } : {}),
    });
    const jsm = await jetstreamManager(nc);
    return new Bus(nc, jetstream(nc), jsm, options, options.loadJwks, options.issueServiceClaim);
  }

  get service(): string {
    return this.options.service;
  }

  get logger(): Logger {
    return this.options.logger;
  }

  /** A subject under the deployment's prefix. */
  subject(subject: string): string {
    return this.options.prefix ? `${this.options.prefix}.${subject}` : subject;
  }

  /** The subject without the deployment's prefix. */
  unprefixed(subject: string): string {
    const prefix = this.options.prefix ? `${this.options.prefix}.` : "";
    return prefix && subject.startsWith(prefix) ? subject.slice(prefix.length) : subject;
  }

  /** A stream name under the deployment's prefix: `EVENTS` or `<PREFIX>_EVENTS`. */
  stream(name: "EVENTS" | "DEAD_LETTERS"): string {
    return this.options.prefix ? `${this.options.prefix.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_${name}` : name;
  }

  /** Creates (or updates) the `EVENTS` and `DEAD_LETTERS` streams. Safe to run again. */
  async provision(): Promise<void> {
    const streams = [
      { name: this.stream("EVENTS"), subjects: [this.subject("evt.>")], max_age: 0, duplicate_window: nanos(120_000) },
      { name: this.stream("DEAD_LETTERS"), subjects: [this.subject("dlq.>")], max_age: nanos(30 * 24 * 3600 * 1000), duplicate_window: nanos(120_000) },
    ];
    for (const config of streams) {
      const base = { ...config, retention: RetentionPolicy.Limits, storage: StorageType.File, num_replicas: 1 };
      try {
        await this.jsm.streams.info(config.name);
        await this.jsm.streams.update(config.name, base);
      } catch (error) {
        if (!isNotFound(error)) throw error;
        await this.jsm.streams.add(base);
      }
    }
  }

  /**
   * Publishes a stored event to `EVENTS` and resolves once JetStream has it. The NATS publish
   * happens synchronously on call, so calling this for several events keeps their order.
   */
  async publishEvent(event: StoredEvent, extra: { replayId?: string } = {}): Promise<void> {
    const h = natsHeaders();
    h.set(HEADER.workspaceId, event.workspaceId);
    h.set(HEADER.claim, event.context.claim);
    h.set(HEADER.msgId, event.id);
    h.set(HEADER.traceparent, event.context.traceparent);
    if (event.context.tracestate) h.set(HEADER.tracestate, event.context.tracestate);
    h.set(HEADER.correlationId, event.context.correlationId);
    h.set(HEADER.causationId, event.context.causationId);
    h.set(HEADER.eventType, event.type);
    h.set(HEADER.schemaVersion, String(event.schemaVersion));
    if (event.context.clientIp) h.set(HEADER.clientIp, clip(event.context.clientIp));
    if (event.context.userAgent) h.set(HEADER.userAgent, clip(event.context.userAgent));
    if (extra.replayId) h.set(HEADER.replayId, extra.replayId);
    const subject = this.subject(`evt.${event.workspaceId}.${event.type}`);
    try {
      await this.js.publish(subject, JSON.stringify(event.payload), { msgID: event.id, headers: h });
    } catch (error) {
      throw new UnavailableError("the event bus did not acknowledge the event", { cause: error });
    }
  }

  /** Publishes on core NATS only (live token deltas, signals): nothing is stored. */
  publishCore(subject: string, data: unknown): void {
    this.nc.publish(this.subject(subject), JSON.stringify(data));
  }

  /**
   * Subscribes on core NATS (every instance sees every message), e.g. for cache invalidation.
   * The handle ends the subscription early (an SSE stream whose client left); otherwise it
   * lasts until the bus closes.
   */
  subscribeCore(subject: string, handler: (data: unknown, subject: string) => void): { unsubscribe(): void } {
    const sub = this.nc.subscribe(this.subject(subject), {
      callback: (error, msg) => {
        if (error) return;
        const data = safeJson(msg.data);
        if (!data.ok) return;
        // The NATS client calls this inside its protocol reader: an exception escaping here
        // would stop the connection from reading anything more.
        try {
          handler(data.value, this.unprefixed(msg.subject));
        } catch (handlerError) {
          this.options.logger.error({ err: handlerError, subject: msg.subject }, "core subscription handler failed");
        }
      },
    });
    this.subscriptions.push(sub);
    return {
      unsubscribe: () => {
        const at = this.subscriptions.indexOf(sub);
        if (at !== -1) this.subscriptions.splice(at, 1);
        sub.unsubscribe();
      },
    };
  }

  /**
   * Drops the cached JWKS and verified claims when identity revokes a signing key (core
   * `evt.*.signing_key.revoked`, CONTRACT §3), so a claim signed by it fails within moments.
   * Started by the first `serve` or `consume`: a connection that verifies nothing (the CLI)
   * does not listen. A forged event can only make this connection fetch the JWKS again.
   */
  private watchKeyRevocations(): void {
    if (this.watchingRevocations) return;
    this.watchingRevocations = true;
    this.subscribeCore("evt.*.signing_key.revoked", () => this.claims.reset());
  }

  /** Makes a `svc.*` request; a typed error reply is thrown as the `GalaxyError` it carries. */
  async request<N extends RequestName>(name: N, payload: unknown, options: RequestOptions = {}): Promise<ReplyData<N>> {
    const h = natsHeaders();
    if (options.claim) h.set(HEADER.claim, options.claim);
    if (options.workspaceId) h.set(HEADER.workspaceId, options.workspaceId);
    h.set(HEADER.traceparent, options.traceparent ?? newTraceparent());
    h.set(HEADER.correlationId, options.correlationId ?? uuidv7());
    if (options.causationId) h.set(HEADER.causationId, options.causationId);
    if (options.clientIp) h.set(HEADER.clientIp, clip(options.clientIp));
    if (options.userAgent) h.set(HEADER.userAgent, clip(options.userAgent));
    let reply: Msg;
    try {
      reply = await this.nc.request(this.subject(requestSubject(name)), JSON.stringify(payload ?? {}), {
        timeout: options.timeoutMs ?? this.options.requestTimeoutMs ?? 10_000,
        headers: h,
      });
    } catch (error) {
      const what = name.split(".")[0] ?? name;
      throw new UnavailableError(`the ${what} service did not answer`, { cause: error });
    }
    const body = safeJson(reply.data);
    const envelope = body.ok ? ReplyEnvelope.safeParse(body.value) : undefined;
    if (!envelope?.success) throw new UnavailableError(`the reply to ${name} was malformed`);
    if (!envelope.data.ok) {
      const e = envelope.data.error;
      throw new GalaxyError(envelope.data.status, e.code, e.message, e.details ? { details: e.details } : {});
    }
    const data = replySchema(name).safeParse(envelope.data.data);
    if (!data.success) throw new UnavailableError(`the reply to ${name} did not match its contract`, { cause: data.error });
    return data.data;
  }

  /**
   * Serves `svc.<name>` in this service's queue group. The payload is parsed against the
   * catalog; the claim, when the operation needs one, is verified and must be unexpired and
   * name the workspace of `Gx-Workspace-Id`.
   */
  serve<N extends RequestName>(name: N, handler: (request: ParsedRequest<N>, ctx: RequestContext) => Promise<ReplyData<N>>): void {
    this.watchKeyRevocations();
    const entry = REQUESTS[name];
    const sub = this.nc.subscribe(this.subject(requestSubject(name)), {
      queue: this.options.service,
      callback: (error, msg) => {
        if (error) return;
        const work = this.handleRequest(name, entry.claim === "required", msg, handler);
        this.inFlight.add(work);
        void work.finally(() => this.inFlight.delete(work));
      },
    });
    this.subscriptions.push(sub);
  }

  private async handleRequest<N extends RequestName>(
    name: N,
    claimRequired: boolean,
    msg: Msg,
    handler: (request: ParsedRequest<N>, ctx: RequestContext) => Promise<ReplyData<N>>,
  ): Promise<void> {
    const hdr = (key: string) => header(msg.headers, key);
    const correlationId = hdr(HEADER.correlationId) ?? uuidv7();
    const logger = this.options.logger.child({ op: name, correlationId });
    const respond = (envelope: ReplyEnvelope) => {
      if (msg.reply) msg.respond(JSON.stringify(envelope));
    };
    await inSpan(`svc.${name}`, hdr(HEADER.traceparent), SpanKind.SERVER, { "messaging.system": "nats", "galaxy.operation": name }, (traceparent) =>
      this.runRequest(name, claimRequired, msg, handler, { correlationId, traceparent, logger, respond }),
    );
  }

  private async runRequest<N extends RequestName>(
    name: N,
    claimRequired: boolean,
    msg: Msg,
    handler: (request: ParsedRequest<N>, ctx: RequestContext) => Promise<ReplyData<N>>,
    request: { correlationId: string; traceparent: string; logger: Logger; respond: (envelope: ReplyEnvelope) => void },
  ): Promise<void> {
    const hdr = (key: string) => header(msg.headers, key);
    const { correlationId, traceparent, logger, respond } = request;
    try {
      let claim: WorkspaceClaim | null = null;
      const claimToken = hdr(HEADER.claim);
      if (claimRequired || claimToken) {
        try {
          claim = await this.claims.verify(claimToken, { checkExpiry: true });
        } catch (error) {
          if (error instanceof ClaimError) throw new GalaxyError(401, `claim_${error.reason}`, error.message);
          throw error;
        }
        const ws = hdr(HEADER.workspaceId);
        if (ws !== undefined && ws !== claim.ws) throw new GalaxyError(401, "claim_workspace_mismatch", "Gx-Workspace-Id does not match the claim");
      }
      const body = safeJson(msg.data);
      if (!body.ok) throw new ValidationError("Malformed JSON", { "(root)": "not valid JSON" }, "malformed_json");
      const parsed = requestSchema(name).safeParse(body.value);
      if (!parsed.success) throw new ValidationError("The request is invalid", issueDetails(parsed.error));
      const ctx: RequestContext = {
        claim,
        correlationId,
        traceparent,
        clientIp: hdr(HEADER.clientIp),
        userAgent: hdr(HEADER.userAgent),
        requester: msg.reply ? /^_INBOX_([^.]+)\./.exec(msg.reply)?.[1] : undefined,
        logger,
        eventContext: () => {
          if (!claimToken) throw new Error(`${name} has no claim to publish events with`);
          return {
            claim: claimToken,
            traceparent,
            correlationId,
            causationId: hdr(HEADER.causationId) ?? correlationId,
            clientIp: hdr(HEADER.clientIp),
            userAgent: hdr(HEADER.userAgent),
          };
        },
      };
      const data = await handler(parsed.data, ctx);
      respond({ ok: true, data });
    } catch (error) {
      if (error instanceof GalaxyError) {
        if (error.status >= 500) logger.warn({ err: error }, "request failed");
        respond({ ok: false, status: error.status, error: error.toBody() });
        return;
      }
      if (isDataException(error)) {
        const invalid = new ValidationError("A value in the request cannot be stored (e.g. a NUL character or an out-of-range date)", undefined, "invalid_value");
        respond({ ok: false, status: invalid.status, error: invalid.toBody() });
        return;
      }
      logger.error({ err: error }, "request handler crashed");
      const status: ErrorStatus = 500;
      respond({ ok: false, status, error: { error: "Internal Server Error", code: "internal_error", message: "Something went wrong on our side" } });
    }
  }

  /**
   * Runs a durable pull consumer on `EVENTS`. Each message is parsed and its claim verified
   * (workspace of claim, header, subject and payload must agree) before the handler runs; the
   * message is acked after the handler returns, retried with backoff when it throws a
   * retryable error, and written to `dlq.<durable>.<subject>` (then acked) when it can never be
   * applied or has used up its deliveries. Messages are applied one at a time, in stream order,
   * except that a message retried with backoff comes back after the ones behind it: a consumer
   * whose result depends on order must retry in place (and call `working()`) before throwing.
   */
  async consume(options: ConsumerOptions): Promise<ConsumerHandle> {
    this.appliers.set(options.durable, options.handler);
    const consumer = await this.durableConsumer(options, 256);
    const messages = await consumer.consume({ max_messages: 64 });
    // Received messages wait here, where the consumer can keep them alive while it retries
    // the one in hand (a buffered one must not outwait its ack wait: it would come back with
    // a higher delivery count).
    const queue = new MessageQueue();
    const run = this.consumerRun(options, queue, () => []);
    const pump = this.pumpInto(messages, queue, options.durable);
    const done = (async () => {
      for (;;) {
        const msg = (await queue.take(1, 0))?.[0];
        if (!msg) return;
        if (run.stopping()) {
          msg.nak();
          continue;
        }
        await this.handleEvent(options, msg, run);
        queue.keepAlive(run.keepAliveEveryMs);
      }
    })().catch((error: unknown) => this.options.logger.error({ err: error, consumer: options.durable }, "consumer stopped"));
    return this.register(run, async () => {
      await messages.close();
      await pump;
      await done;
    });
  }

  /**
   * Like {@link consume}, but hands the handler every event that is waiting (up to `maxBatch`,
   * after at most `lingerMs` for more) in one call, and acks them all after it returns: one
   * transaction can then apply many events. Checks are per event, as in `consume`: when any
   * event of a batch fails its checks or the handler throws, the batch is applied again one
   * event at a time, in order, through the same path as `consume` (retries in place, dead
   * letters per event), so a bad event costs only itself and stream order is kept.
   */
  async consumeBatch(options: BatchConsumerOptions): Promise<ConsumerHandle> {
    const maxBatch = options.maxBatch ?? 256;
    const lingerMs = options.lingerMs ?? 2;
    // Unacked events are bounded by the consumer's max_ack_pending: two batches' worth.
    const consumer = await this.durableConsumer(options, Math.max(256, maxBatch * 2));
    const messages = await consumer.consume({ max_messages: maxBatch });
    const queue = new MessageQueue();
    // The events of a failed batch not applied yet: kept alive, with the queue, while one is retried.
    let rest: JsMsg[] = [];
    const run = this.consumerRun(options, queue, () => rest);
    const pump = this.pumpInto(messages, queue, options.durable);
    const single: ConsumerOptions = { ...options, handler: (message) => options.handler([message]) };
    this.appliers.set(options.durable, single.handler);
    this.batchAppliers.set(options.durable, options.handler);
    const done = (async () => {
      for (;;) {
        const batch = await queue.take(maxBatch, lingerMs);
        if (batch === null) return;
        if (!(await this.applyBatch(options, batch, run))) {
          for (let i = 0; i < batch.length; i++) {
            rest = batch.slice(i + 1);
            const msg = batch[i];
            if (!msg) continue;
            if (run.stopping()) {
              // Stopping: hand the rest back untried, in order.
              msg.nak();
              continue;
            }
            await this.handleEvent(single, msg, run);
          }
          rest = [];
        }
        queue.keepAlive(run.keepAliveEveryMs);
      }
    })().catch((error: unknown) => this.options.logger.error({ err: error, consumer: options.durable }, "consumer stopped"));
    return this.register(run, async () => {
      await messages.close();
      await pump;
      await done;
    });
  }

  /** Moves what JetStream delivers into `queue`, ending it when the subscription ends. */
  private pumpInto(messages: AsyncIterable<JsMsg>, queue: MessageQueue, durable: string): Promise<void> {
    return (async () => {
      for await (const msg of messages) queue.push(msg);
    })()
      .catch((error: unknown) => this.options.logger.error({ err: error, consumer: durable }, "consumer stopped"))
      .finally(() => queue.end());
  }

  /** The state a consumer's loop shares with the handling of each message. */
  private consumerRun(options: Pick<ConsumerOptions, "ackWaitMs">, queue: MessageQueue, rest: () => readonly JsMsg[]): ConsumerRun {
    const run: ConsumerRun = {
      stopped: false,
      stopping: () => this.stopping || run.stopped,
      keepHeld: () => {
        for (const msg of rest()) msg.working();
        queue.keepAlive(0);
      },
      keepAliveEveryMs: Math.floor((options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS) / 3),
    };
    return run;
  }

  /** Lists a consumer for `stopIntake` and hands back its own stop (once, whoever calls it first). */
  private register(run: ConsumerRun, close: () => Promise<void>): ConsumerHandle {
    let stopped: Promise<void> | null = null;
    const handle: ConsumerHandle = {
      stop: () => {
        run.stopped = true;
        stopped ??= close();
        return stopped;
      },
    };
    this.consumers.push(handle);
    return handle;
  }

  /** The fast path of a batch: every event checked, one handler call, acks. False when anything failed. */
  private async applyBatch(options: BatchConsumerOptions, batch: JsMsg[], run: ConsumerRun): Promise<boolean> {
    if (run.stopping()) {
      // Hand what was not started back at once, for another instance or our next start.
      for (const msg of batch) msg.nak();
      return true;
    }
    if (batch.some((msg) => msg.info.deliveryCount > POISON_DELIVERIES)) return false;
    try {
      const verified: EventMessage[] = [];
      for (const msg of batch) verified.push(await this.verifyEvent(msg, 1));
      const first = verified[0];
      if (!first) return true;
      await inSpan(`apply ${verified.length} events`, first.headers.traceparent, SpanKind.CONSUMER, { "messaging.system": "nats", "galaxy.consumer": options.durable, "messaging.batch.message_count": verified.length }, () =>
        options.handler(verified),
      );
    } catch (error) {
      this.options.logger.debug({ err: error, consumer: options.durable, events: batch.length }, "batch failed; applying its events one at a time");
      return false;
    }
    for (const msg of batch) msg.ack();
    return true;
  }

  /** Creates or updates the durable pull consumer on `EVENTS`. */
  private async durableConsumer(options: Pick<ConsumerOptions, "durable" | "filter" | "ackWaitMs">, maxAckPending: number) {
    this.watchKeyRevocations();
    const stream = this.stream("EVENTS");
    const config = {
      durable_name: options.durable,
      filter_subject: this.subject(options.filter),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS),
      max_ack_pending: maxAckPending,
      max_deliver: -1,
    };
    try {
      await this.jsm.consumers.info(stream, options.durable);
      await this.jsm.consumers.update(stream, options.durable, { ack_wait: config.ack_wait, max_ack_pending: config.max_ack_pending, filter_subject: config.filter_subject });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await this.jsm.consumers.add(stream, config);
    }
    return this.js.consumers.get(stream, options.durable);
  }

  /**
   * Applies one message. A retryable failure is retried here, in place, with backoff, so the
   * messages behind it wait and the consumer keeps stream order; after `maxDeliveries`
   * attempts, or at once for a terminal failure, the message becomes a dead letter and is acked.
   */
  private async handleEvent(options: ConsumerOptions, msg: JsMsg, run: ConsumerRun): Promise<void> {
    const logger = this.options.logger.child({ consumer: options.durable, subject: msg.subject, seq: msg.seq });
    const maxAttempts = options.maxDeliveries ?? 5;
    if (msg.info.deliveryCount > POISON_DELIVERIES) {
      // Redelivered again and again without an ack: the handler likely crashes its process.
      await this.settleDeadLetter(options.durable, msg, `delivered ${msg.info.deliveryCount} times without being acknowledged`, msg.info.deliveryCount, logger);
      return;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        const message = await this.verifyEvent(msg, attempt);
        await inSpan(`apply ${message.event.type}`, message.headers.traceparent, SpanKind.CONSUMER, { "messaging.system": "nats", "galaxy.consumer": options.durable, "galaxy.attempt": attempt }, (traceparent) =>
          options.handler({ ...message, derivedContext: (claim) => ({ ...message.derivedContext(claim), traceparent }) }),
        );
        msg.ack();
        return;
      } catch (error) {
        const retryable = isRetryable(error);
        if (retryable && attempt < maxAttempts) {
          if (run.stopping()) {
            // Shutting down: hand it back for another instance (or our next start) to apply.
            msg.nak();
            return;
          }
          const delay = Math.min(30_000, (options.backoffMs ?? 500) * 2 ** (attempt - 1)) * (0.8 + Math.random() * 0.4);
          logger.warn({ err: error, attempt }, "event handler failed; retrying in place");
          await this.pause(delay, msg, run);
          if (run.stopping()) {
            msg.nak();
            return;
          }
          continue;
        }
        const reason = error instanceof Error ? error.message : String(error);
        logger.error({ err: error, attempt }, retryable ? "event failed every attempt; dead-lettered" : "event cannot be applied; dead-lettered");
        await this.settleDeadLetter(options.durable, msg, reason, attempt, logger, securityFailure(error));
        return;
      }
    }
  }

  /**
   * Waits `ms`, telling JetStream the message is still being worked on, and waking early on
   * stop. In a consumer (`run`) every other message it holds is kept alive too: a long retry
   * (a database outage) must not let them pass their ack wait, be redelivered and count
   * deliveries towards a dead letter without ever having been tried.
   */
  private async pause(ms: number, msg: Pick<IncomingMessage, "working">, run?: ConsumerRun): Promise<void> {
    const until = Date.now() + ms;
    const stopping = () => (run ? run.stopping() : this.stopping);
    while (!stopping() && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, until - Date.now())));
      msg.working();
      run?.keepHeld();
    }
  }

  /**
   * Writes the dead letter, reports a message that failed its claim or workspace checks
   * (`securityReason`) as a `security.forged_message` event, then acks. Without a dead letter
   * the message is redelivered; without a report (identity or the bus down after a few tries)
   * it is still acked: the dead letter keeps it for an operator, and the consumer moves on.
   */
  private async settleDeadLetter(consumer: string, msg: JsMsg, reason: string, attempts: number, logger: Logger, securityReason: string | null = null): Promise<void> {
    try {
      await this.deadLetter(consumer, msg, reason, attempts);
    } catch (dlqError) {
      logger.error({ err: dlqError }, "could not write the dead letter; will redeliver");
      msg.nak(5_000);
      return;
    }
    if (securityReason) await this.reportForgedMessage(consumer, msg, securityReason, logger);
    msg.ack();
  }

  /**
   * Publishes a `security.forged_message` event into the workspace the message named (its
   * subject's token, else its `Gx-Workspace-Id`, else the system workspace), with this
   * service's claim for that workspace. The event id is derived from consumer, stream and
   * sequence, so a redelivery of the same message reports the same event (JetStream drops the
   * repeat; audit keeps one entry per id). The claim is verified here before it is used: a
   * report that its own consumers would refuse would be reported in turn, without end.
   */
  private async reportForgedMessage(consumer: string, msg: IncomingMessage, reason: string, logger: Logger): Promise<void> {
    const report = forgedMessageReport(this.unprefixed(msg.subject), msg, consumer, reason, this.options.service);
    for (let attempt = 1; ; attempt++) {
      try {
        const claim = await withTimeout(this.serviceClaims.get(report.workspaceId), FORGED_REPORT_CLAIM_TIMEOUT_MS, "identity did not issue a service claim in time");
        const verified = await this.claims.verify(claim, { checkExpiry: true });
        if (verified.ws !== report.workspaceId) throw new Error(`identity issued a claim for ${verified.ws}, not ${report.workspaceId}`);
        await this.publishEvent({ ...report, context: { ...report.context, claim } });
        logger.warn({ reportId: report.id, workspaceId: report.workspaceId, reason }, "forged message reported");
        return;
      } catch (error) {
        if (attempt >= FORGED_REPORT_ATTEMPTS || this.stopping) {
          logger.error({ err: error, reportId: report.id, workspaceId: report.workspaceId, reason }, "could not report the forged message; it stays a dead letter");
          return;
        }
        await this.pause(250 * 4 ** (attempt - 1), msg);
      }
    }
  }

  /** Parses and verifies one event message; throws `TerminalMessageError` when it can never be applied. */
  private async verifyEvent(msg: IncomingMessage, attempt: number): Promise<EventMessage> {
    const subject = this.unprefixed(msg.subject);
    const hdr = (key: string) => header(msg.headers, key);
    const fromSubject = parseEventSubject(subject);
    if (!fromSubject) throw new TerminalMessageError("bad_subject", `${subject} is not an event subject`);
    const headerWs = hdr(HEADER.workspaceId);
    if (!headerWs || !WorkspaceId.safeParse(headerWs).success) throw new TerminalMessageError("missing_workspace", "no valid Gx-Workspace-Id header");
    const claimToken = hdr(HEADER.claim);
    let claim: WorkspaceClaim;
    try {
      claim = await this.claims.verify(claimToken, { checkExpiry: false });
    } catch (error) {
      if (error instanceof ClaimError) throw new TerminalMessageError(`forged_claim:${error.reason}`, `claim refused: ${error.message}`, { cause: error });
      throw error;
    }
    // Before the payload is read, so a claim of another workspace is reported as such even
    // when the payload is bad too.
    if (claim.ws !== headerWs || headerWs !== fromSubject.workspaceId) {
      throw new TerminalMessageError("workspace_mismatch", "claim, header, subject and payload name different workspaces");
    }
    const body = safeJson(msg.data);
    if (!body.ok) throw new TerminalMessageError("bad_payload", "payload is not JSON");
    const parsed = parseEvent(body.value);
    if (!parsed.ok) throw new TerminalMessageError("bad_payload", parsed.error);
    const event = parsed.event;
    if (event.workspaceId !== headerWs) {
      throw new TerminalMessageError("workspace_mismatch", "claim, header, subject and payload name different workspaces");
    }
    if (event.type !== fromSubject.type) throw new TerminalMessageError("bad_payload", `payload type ${event.type} does not match subject`);
    // Every event carries its trace (CONTRACT §3); making one up would make the audit entry
    // built from it differ on every replay.
    const traceparent = hdr(HEADER.traceparent);
    if (!traceparent) throw new TerminalMessageError("missing_header", "no traceparent header");
    const correlationId = hdr(HEADER.correlationId) ?? event.id;
    const headers = {
      traceparent,
      correlationId,
      causationId: hdr(HEADER.causationId) ?? correlationId,
      clientIp: hdr(HEADER.clientIp),
      userAgent: hdr(HEADER.userAgent),
    };
    return {
      event,
      claim,
      claimToken: claimToken ?? "",
      subject,
      streamSeq: msg.seq,
      deliveryCount: msg.info.deliveryCount,
      attempt,
      replayId: hdr(HEADER.replayId),
      headers,
      derivedContext: (derivedClaim) => ({
        claim: derivedClaim ?? claimToken ?? "",
        traceparent: childTraceparent(traceparent),
        correlationId,
        causationId: event.id,
        clientIp: headers.clientIp,
        userAgent: headers.userAgent,
      }),
      working: () => msg.working(),
      raw: () => rawOf(msg, subject),
    };
  }

  /** Writes a message a consumer could not apply to `dlq.<consumer>.<original subject>`. */
  private async deadLetter(consumer: string, msg: IncomingMessage, error: string, attempts: number): Promise<void> {
    const h = natsHeaders();
    if (msg.headers) {
      for (const key of msg.headers.keys()) {
        if (key === HEADER.msgId) continue;
        for (const value of msg.headers.values(key)) h.append(key, value);
      }
    }
    const subject = this.unprefixed(msg.subject);
    h.set(HEADER.dlqConsumer, consumer);
    h.set(HEADER.dlqError, clip(error.replace(/[\r\n]+/g, " ")));
    h.set(HEADER.dlqDeliveries, String(attempts));
    h.set(HEADER.dlqSubject, subject);
    h.set(HEADER.msgId, `${consumer}:${msg.info.stream}:${msg.seq}`);
    await this.js.publish(this.subject(`dlq.${consumer}.${subject}`), msg.data, { headers: h, msgID: `${consumer}:${msg.info.stream}:${msg.seq}` });
  }

  /**
   * Hands one message, replayed or redriven, to the handler of this process's durable consumer
   * `consumer`, after the same checks as a live delivery (CONTRACT §3: an event's claim expiry
   * is not checked again). `replayId` becomes `Gx-Replay-Id`. A message that can never be
   * applied becomes a dead letter of that consumer (and a `security.forged_message` when it
   * failed its claim or workspace checks) and the error is thrown; so is any other failure.
   */
  async deliver(consumer: string, raw: RawBusMessage, options: { replayId?: string | undefined } = {}): Promise<void> {
    const handler = this.appliers.get(consumer);
    if (!handler) throw new GalaxyError(404, "consumer_not_found", `this service runs no consumer named ${consumer}`);
    const msg = incomingOf(raw, this.subject(raw.subject), this.stream("EVENTS"), options);
    const logger = this.options.logger.child({ consumer, subject: raw.subject, seq: raw.seq, replayId: options.replayId });
    try {
      const message = await this.verifyEvent(msg, 1);
      await inSpan(`apply ${message.event.type}`, message.headers.traceparent, SpanKind.CONSUMER, { "messaging.system": "nats", "galaxy.consumer": consumer, "galaxy.replay": options.replayId ?? "" }, (traceparent) =>
        handler({ ...message, derivedContext: (claim) => ({ ...message.derivedContext(claim), traceparent }) }),
      );
    } catch (error) {
      if (!isRetryable(error)) {
        const reason = error instanceof Error ? error.message : String(error);
        logger.warn({ err: error }, "a replayed or redriven message cannot be applied; dead-lettered");
        await this.deadLetter(consumer, msg, reason, 1);
        const security = securityFailure(error);
        if (security) await this.reportForgedMessage(consumer, msg, security, logger);
      }
      throw error;
    }
  }

  /**
   * Like {@link deliver} for many messages in stream order: a batch consumer's handler gets them
   * in one call when every one passes its checks; otherwise (or when that call fails) each is
   * delivered alone, so a bad one costs only itself. Answers the failures by sequence.
   */
  async deliverMany(consumer: string, raws: RawBusMessage[], options: { replayId?: string | undefined } = {}): Promise<Array<{ seq: number; error: string }>> {
    const batch = this.batchAppliers.get(consumer);
    if (batch && raws.length > 1) {
      try {
        const verified: EventMessage[] = [];
        for (const raw of raws) verified.push(await this.verifyEvent(incomingOf(raw, this.subject(raw.subject), this.stream("EVENTS"), options), 1));
        await batch(verified);
        return [];
      } catch (error) {
        this.options.logger.debug({ err: error, consumer, messages: raws.length }, "replayed batch failed; delivering its messages one at a time");
      }
    }
    const failed: Array<{ seq: number; error: string }> = [];
    for (const raw of raws) {
      try {
        await this.deliver(consumer, raw, options);
      } catch (error) {
        failed.push({ seq: raw.seq, error: error instanceof Error ? error.message : String(error) });
      }
    }
    return failed;
  }

  /**
   * An ordered consumer on `EVENTS` or `DEAD_LETTERS` (ephemeral, no acks, recreated by the
   * client at the right place if a message is missed): how replays and the dead-letter index
   * read a stream. `filter` is without the deployment's prefix.
   */
  async orderedReader(stream: "EVENTS" | "DEAD_LETTERS", options: { filter: string; fromSeq?: number | undefined; since?: string | undefined }) {
    const start =
      options.fromSeq !== undefined
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: options.fromSeq }
        : options.since !== undefined
          ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(options.since).toISOString() }
          : { deliver_policy: DeliverPolicy.All };
    // One filter, given as a string: NATS 2.9 has no `filter_subjects`.
    return this.js.consumers.get(this.stream(stream), { filter_subjects: this.subject(options.filter), ...start });
  }

  /** A stream's first and last sequence and its message count right now. */
  async streamState(stream: "EVENTS" | "DEAD_LETTERS"): Promise<{ firstSeq: number; lastSeq: number; messages: number }> {
    const info = await this.jsm.streams.info(this.stream(stream));
    return { firstSeq: info.state.first_seq, lastSeq: info.state.last_seq, messages: info.state.messages };
  }

  /** One message of a stream by sequence, or null when there is none. */
  async streamMessage(stream: "EVENTS" | "DEAD_LETTERS", seq: number): Promise<{ subject: string; seq: number; time: Date; headers: MsgHdrs | undefined; data: Uint8Array } | null> {
    try {
      const msg = await this.jsm.streams.getMessage(this.stream(stream), { seq });
      if (!msg) return null;
      return { subject: this.unprefixed(msg.subject), seq: msg.seq, time: msg.time, headers: msg.header, data: msg.data };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  /**
   * Resolves once the server has every subscription made so far (serving, core signals):
   * a request from another connection after this finds its responder.
   */
  async flush(): Promise<void> {
    await this.nc.flush();
  }

  /**
   * Calls `callback` each time the connection comes back after a loss. Core NATS signals sent
   * meanwhile are lost, so what they keep fresh (cached claims, keys) should be dropped.
   */
  onReconnect(callback: () => void): void {
    void (async () => {
      for await (const status of this.nc.status()) {
        if (status.type === "reconnect") {
          try {
            callback();
          } catch (error) {
            this.options.logger.error({ err: error }, "reconnect handler failed");
          }
        }
      }
    })();
  }

  /** True while the NATS connection is up. */
  isConnected(): boolean {
    return !this.closed && !this.nc.isClosed() && this.linkUp;
  }

  /**
   * Stops taking work: unsubscribes request handlers and consumers and waits for the requests
   * and events being handled to finish. The connection stays open for what they publish.
   */
  async stopIntake(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled(this.subscriptions.map((sub) => sub.drain()));
    await Promise.allSettled(this.consumers.map((c) => c.stop()));
    await Promise.allSettled([...this.inFlight]);
  }

  /** Stops taking work, then drains the connection so pending publishes go out. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.stopIntake();
    this.closed = true;
    try {
      await this.nc.drain();
    } catch (error) {
      if (!(error instanceof natsErrors.ClosedConnectionError)) throw error;
    }
  }
}

/** The messages a consumer has received and not yet taken, in arrival (stream) order. */
class MessageQueue {
  private items: JsMsg[] = [];
  private ended = false;
  private wake: (() => void) | null = null;
  private touchedAt = Date.now();

  /** Tells JetStream the waiting messages are still wanted, when the last time was `everyMs` ago or more. */
  keepAlive(everyMs: number): void {
    if (Date.now() - this.touchedAt < everyMs) return;
    this.touchedAt = Date.now();
    for (const msg of this.items) msg.working();
  }

  push(msg: JsMsg): void {
    this.items.push(msg);
    this.signal();
  }

  end(): void {
    this.ended = true;
    this.signal();
  }

  /** Up to `max` messages, waiting for the first and then up to `lingerMs` for more; null once ended and empty. */
  async take(max: number, lingerMs: number): Promise<JsMsg[] | null> {
    while (this.items.length === 0) {
      if (this.ended) return null;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    if (this.items.length < max && lingerMs > 0 && !this.ended) await new Promise((resolve) => setTimeout(resolve, lingerMs));
    return this.items.splice(0, max);
  }

  private signal(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}

/** The reason to report a dead-lettered message as forged, or null when its failure is not a security one. */
function securityFailure(error: unknown): string | null {
  return error instanceof TerminalMessageError && SECURITY_FAILURE.test(error.reason) ? error.reason : null;
}

/**
 * The `security.forged_message` event for a message `consumer` refused, without its claim.
 * Built only from the message and its place in the stream, so it is the same on every
 * redelivery; whatever the message says is treated as hostile: only well-formed ids are kept.
 */
function forgedMessageReport(subject: string, msg: IncomingMessage, consumer: string, reason: string, service: string): Omit<StoredEvent, "context"> & { context: Omit<MessageContext, "claim"> } {
  const headerWs = header(msg.headers, HEADER.workspaceId);
  const validHeaderWs = headerWs !== undefined && WorkspaceId.safeParse(headerWs).success ? headerWs : undefined;
  const workspaceId = parseEventSubject(subject)?.workspaceId ?? validHeaderWs ?? SYSTEM_WORKSPACE_ID;
  const id = uuidv5(`${consumer}:${msg.info.stream}:${msg.seq}`, FORGED_REPORT_NAMESPACE);
  const messageId = printable(header(msg.headers, HEADER.msgId)) ?? payloadId(msg.data);
  const entry = EVENT_CATALOG["security.forged_message"];
  const data = entry.data.parse({ consumer, subject: clip(subject), reason, messageId, claimedWorkspaceId: printable(headerWs) });
  return {
    id,
    workspaceId,
    type: "security.forged_message",
    schemaVersion: entry.schemaVersion,
    payload: { id, type: "security.forged_message", occurredAt: msg.time.toISOString(), workspaceId, actor: { type: "service", id: service }, data },
    context: { traceparent: newTraceparent(), correlationId: id, causationId: messageId ?? id },
  };
}

/** A header value short and plain enough to repeat in an event, or null. */
function printable(value: string | undefined): string | null {
  return value !== undefined && /^[\x21-\x7e]{1,128}$/.test(value) ? value : null;
}

/** The `id` of a message's JSON payload when it is a UUID. */
function payloadId(data: Uint8Array): string | null {
  const body = safeJson(data);
  if (!body.ok || typeof body.value !== "object" || body.value === null || !("id" in body.value)) return null;
  const id = Uuid.safeParse(body.value.id);
  return id.success ? id.data : null;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UnavailableError(message)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export type ClaimVerifierLoader = () => Promise<import("@galaxy/contracts").Jwks>;
export type ServiceClaimIssuer = (workspaceId: string) => Promise<{ claim: string; expiresAt: number }>;

// TypeScript cannot correlate a catalog entry with its key through an indexed access; these
// two functions state the correlation once, for schemas only (never for outside data).
function replySchema<N extends RequestName>(name: N): z.ZodType<ReplyData<N>> {
  return REQUESTS[name].reply as unknown as z.ZodType<ReplyData<N>>;
}

function requestSchema<N extends RequestName>(name: N): z.ZodType<ParsedRequest<N>> {
  return REQUESTS[name].request as unknown as z.ZodType<ParsedRequest<N>>;
}

function header(h: MsgHdrs | undefined, key: string): string | undefined {
  const value = h?.get(key);
  return value ? value : undefined;
}

function clip(value: string): string {
  return value.length > HEADER_VALUE_LIMIT ? value.slice(0, HEADER_VALUE_LIMIT) : value;
}

function safeJson(data: Uint8Array): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(new TextDecoder().decode(data)) };
  } catch {
    return { ok: false };
  }
}

function isNotFound(error: unknown): boolean {
  return error instanceof Error && /not found/i.test(error.message);
}

/** Deletes a deployment's streams (tests clean up their own prefix with it). */
export async function dropStreams(url: string, prefix: string): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    for (const name of ["EVENTS", "DEAD_LETTERS"]) {
      const stream = prefix ? `${prefix.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_${name}` : name;
      await jsm.streams.delete(stream).catch(() => false);
    }
  } finally {
    await nc.close();
  }
}
