import type { Msg, MsgHdrs, NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { Jwks, ParsedRequest, RawBusMessage, ReplyData, RequestName } from "@galaxy/contracts";
import { consumerMetrics, eventMetrics, Registry, type Logger } from "@galaxy/observability";
import { ClaimCache, ClaimVerifier } from "./claims";
import { drainConnection, LinkState, openConnection } from "./connection";
import { applyAs, consume, consumeBatch, consumerExists } from "./consume";
import { Names, type StreamKind } from "./names";
import { provision } from "./provisioning";
import { publishCore, publishEvent, subscribeCore, watch } from "./publishing";
import { deliver, deliverMany, prepareRead, type DeliveryFailures, type PreparedRead, type ReadMessage } from "./replay-delivery";
import { rawRequest, request } from "./requests";
import { Running, type BusResources } from "./resources";
import { serve } from "./serving";
import { orderedReader, streamMessage, streamState } from "./stream-reads";
import type { BatchConsumerOptions, BusOptions, ConsumerHandle, ConsumerOptions, EventMessage, RequestContext, RequestOptions, StoredEvent } from "./types";

export type ClaimVerifierLoader = () => Promise<Jwks>;
export type ServiceClaimIssuer = (workspaceId: string) => Promise<{ claim: string; expiresAt: number }>;

/**
 * Galaxy's message bus (docs/bus.md): the only code that touches the NATS client. Publishes
 * events with every header, serves and makes requests, and runs durable consumers that verify
 * every message before their handler sees it. A thin facade: each concern lives in its own
 * file and works on the one `BusResources` built here.
 */
export class Bus {
  readonly claims: ClaimVerifier;
  readonly serviceClaims: ClaimCache;
  private readonly r: BusResources;
  private readonly link: LinkState;
  private watchingRevocations = false;

  private constructor(nc: NatsConnection, jsm: Awaited<ReturnType<typeof jetstreamManager>>, options: BusOptions, loadJwks?: ClaimVerifierLoader, issueServiceClaim?: ServiceClaimIssuer) {
    this.claims = new ClaimVerifier({ loadJwks: loadJwks ?? (() => this.request("identity.jwks", {})) });
    this.serviceClaims = new ClaimCache(issueServiceClaim ?? ((workspaceId) => this.request("identity.claims.service", { workspaceId, service: options.service })));
    const registry = options.metrics ?? new Registry();
    this.r = {
      nc,
      js: jetstream(nc),
      jsm,
      options,
      logger: options.logger,
      names: new Names(options.prefix),
      claims: this.claims,
      serviceClaims: this.serviceClaims,
      metrics: consumerMetrics(registry),
      events: eventMetrics(registry),
      registry,
      running: new Running(),
      watchKeyRevocations: () => this.watchKeyRevocations(),
    };
    this.link = new LinkState(nc, options.logger);
  }

  static async connect(options: BusOptions & { loadJwks?: ClaimVerifierLoader; issueServiceClaim?: ServiceClaimIssuer }): Promise<Bus> {
    const nc = await openConnection(options);
    return new Bus(nc, await jetstreamManager(nc), options, options.loadJwks, options.issueServiceClaim);
  }

  get service(): string {
    return this.r.options.service;
  }

  /** Where this connection's consumer and event metrics are registered (`/metrics` serves it). */
  get registry(): Registry {
    return this.r.registry;
  }

  get logger(): Logger {
    return this.r.logger;
  }

  /** The largest message the NATS server takes, in bytes (its `max_payload`). */
  get maxPayload(): number {
    return this.r.nc.info?.max_payload ?? 0;
  }

  /** A subject under the deployment's prefix. */
  subject(subject: string): string {
    return this.r.names.subject(subject);
  }

  /** The subject without the deployment's prefix. */
  unprefixed(subject: string): string {
    return this.r.names.unprefixed(subject);
  }

  /** A stream name under the deployment's prefix: `EVENTS` or `<PREFIX>_EVENTS`. */
  stream(name: StreamKind): string {
    return this.r.names.stream(name);
  }

  /** Creates (or updates) the `EVENTS` and `DEAD_LETTERS` streams; never lowers their replicas. Safe to run again. */
  provision(): Promise<void> {
    return provision(this.r);
  }

  /** Publishes a stored event to `EVENTS` and resolves once JetStream has it; calls keep their order. */
  publishEvent(event: StoredEvent, extra: { replayId?: string } = {}): Promise<void> {
    return publishEvent(this.r, event, extra);
  }

  /** Publishes on core NATS only (live token deltas, signals): nothing is stored. */
  publishCore(subject: string, data: unknown): void {
    publishCore(this.r, subject, data);
  }

  /** Subscribes on core NATS (every instance sees every message), with JSON payloads and unprefixed subjects. */
  subscribeCore(subject: string, handler: (data: unknown, subject: string) => void): { unsubscribe(): void } {
    return subscribeCore(this.r, subject, handler);
  }

  /** Sees every message on a subject (without the prefix) as NATS delivers it, headers and all: for tests and tools. */
  watch(subject: string, handler: (msg: Msg) => void): { unsubscribe(): void } {
    return watch(this.r, subject, handler);
  }

  /** Makes a `svc.*` request; a typed error reply is thrown as the `GalaxyError` it carries. */
  request<N extends RequestName>(name: N, payload: unknown, options: RequestOptions = {}): Promise<ReplyData<N>> {
    return request(this.r, name, payload, options);
  }

  /** A request on a subject as given, no envelope (JetStream's `$JS.API.…`, a hand-made message to a stream): for tests and tools. */
  rawRequest(subject: string, data: string | Uint8Array, options: { headers?: MsgHdrs; timeoutMs?: number } = {}): Promise<Msg> {
    return rawRequest(this.r, subject, data, options);
  }

  /** Serves `svc.<name>` in this service's queue group, with the payload parsed and the claim verified. */
  serve<N extends RequestName>(name: N, handler: (request: ParsedRequest<N>, ctx: RequestContext) => Promise<ReplyData<N>>): void {
    serve(this.r, name, handler);
  }

  /** Runs a durable consumer on `EVENTS`: one verified event at a time, in stream order (docs/bus.md, "Consumers"). */
  consume(options: ConsumerOptions): Promise<ConsumerHandle> {
    return consume(this.r, options);
  }

  /** Like {@link consume}, with the events that are waiting handed over (and acked) together. */
  consumeBatch(options: BatchConsumerOptions): Promise<ConsumerHandle> {
    return consumeBatch(this.r, options);
  }

  /** Whether the durable consumer `durable` exists on `EVENTS`: for tests and tools (a service binds to one that may not exist with `existingOnly`). */
  consumerExists(durable: string): Promise<boolean> {
    return consumerExists(this.r, durable);
  }

  /** Lets redrives of consumer `durable`'s dead letters reach `handler` here, with no live consumer (one that was retired). */
  applyAs(durable: string, handler: (message: EventMessage) => Promise<void>): void {
    applyAs(this.r, durable, handler);
  }

  /** Hands one replayed or redriven message to this process's consumer `consumer`, after the same checks as a live one. */
  deliver(consumer: string, raw: RawBusMessage, options: { replayId?: string | undefined } = {}): Promise<void> {
    return deliver(this.r, consumer, raw, options);
  }

  /** Like {@link deliver} for many messages in stream order; answers the failures by sequence. */
  deliverMany(consumer: string, raws: RawBusMessage[], options: { replayId?: string | undefined } = {}): Promise<DeliveryFailures> {
    return deliverMany(this.r, consumer, raws, options);
  }

  /**
   * Like {@link deliverMany} for messages this process read from `EVENTS` itself (a replay), with
   * no raw copy: their checks start now, and `apply()` of the answer hands them over.
   */
  prepareRead(consumer: string, messages: ReadMessage[], options: { replayId?: string | undefined } = {}): PreparedRead {
    return prepareRead(this.r, consumer, messages, options);
  }

  /** An ordered consumer on a stream (no acks): how replays and the dead-letter index read it. */
  orderedReader(stream: StreamKind, options: { filter: string; fromSeq?: number | undefined; since?: string | undefined }) {
    return orderedReader(this.r, stream, options);
  }

  /** A stream's first and last sequence and its message count right now. */
  streamState(stream: StreamKind): Promise<{ firstSeq: number; lastSeq: number; messages: number }> {
    return streamState(this.r, stream);
  }

  /** One message of a stream by sequence, or null when there is none. */
  streamMessage(stream: StreamKind, seq: number): ReturnType<typeof streamMessage> {
    return streamMessage(this.r, stream, seq);
  }

  /** Resolves once the server has every subscription made so far: a request from another connection after this finds its responder. */
  async flush(): Promise<void> {
    await this.r.nc.flush();
  }

  /** Calls `callback` each time the connection comes back after a loss. */
  onReconnect(callback: () => void): void {
    this.link.onReconnect(callback);
  }

  /** True while the NATS connection is up. */
  isConnected(): boolean {
    return !this.r.running.closed && !this.r.nc.isClosed() && this.link.up;
  }

  /**
   * Stops taking work: unsubscribes request handlers and consumers and waits for the requests
   * and events being handled to finish. The connection stays open for what they publish.
   */
  async stopIntake(): Promise<void> {
    const running = this.r.running;
    running.stopping = true;
    await Promise.allSettled(running.subscriptions.map((sub) => sub.drain()));
    await Promise.allSettled(running.consumers.map((c) => c.stop()));
    await Promise.allSettled([...running.inFlight]);
  }

  /** Stops taking work, then drains the connection so pending publishes go out. */
  async close(): Promise<void> {
    if (this.r.running.closed) return;
    await this.stopIntake();
    this.r.running.closed = true;
    await drainConnection(this.r.nc);
  }

  /**
   * Drops the cached JWKS and verified claims when identity revokes a signing key (core
   * `evt.*.signing_key.revoked`), so a claim signed by it fails within moments. Started by the
   * first `serve` or `consume`: a connection that verifies nothing (the CLI) does not listen.
   * A forged event can only make this connection fetch the JWKS again.
   */
  private watchKeyRevocations(): void {
    if (this.watchingRevocations) return;
    this.watchingRevocations = true;
    subscribeCore(this.r, "evt.*.signing_key.revoked", () => this.claims.reset());
  }
}
