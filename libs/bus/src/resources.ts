import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { ConsumerMetrics, EventMetrics, Logger, Registry } from "@galaxy/observability";
import type { ClaimCache, ClaimVerifier } from "./claims";
import type { Names } from "./names";
import type { RetryPolicy } from "./retry-policy";
import type { BatchHandler, BusOptions, ConsumerHandle, EventMessage } from "./types";

/**
 * What every part of the bus shares: one connection, its JetStream handles, the deployment's
 * names, the claim verifier, the consumers' metrics, and what is running. Built once by the
 * `Bus` facade and handed to each concern (publishing, requests, consumers, dead letters…).
 */
export interface BusResources {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly options: BusOptions;
  readonly logger: Logger;
  readonly names: Names;
  readonly claims: ClaimVerifier;
  readonly serviceClaims: ClaimCache;
  readonly metrics: ConsumerMetrics;
  /** Counts what the events this service publishes say (executions, model calls, intake). */
  readonly events: EventMetrics;
  /** The registry both go to: the service's own, or the bus's when it was given none. */
  readonly registry: Registry;
  readonly running: Running;
  /** Starts listening for signing-key revocations (once): the first `serve` or `consume` calls it. */
  watchKeyRevocations(): void;
}

/** What runs on the connection, so `stopIntake` can stop it and replays reach the same handlers. */
export class Running {
  /** True once the bus stops taking work: retries hand their message back instead. */
  stopping = false;
  closed = false;
  readonly subscriptions: Subscription[] = [];
  readonly consumers: ConsumerHandle[] = [];
  /** Requests being handled, so a stop waits for their replies. */
  readonly inFlight = new Set<Promise<void>>();
  /** Each durable consumer's handler by name: a replayed or redriven message goes to the same code. */
  readonly appliers = new Map<string, (message: EventMessage) => Promise<void>>();
  /** The handlers of batch consumers: a replay hands them many messages in one call. */
  readonly batchAppliers = new Map<string, BatchHandler>();
  /** Each durable consumer's retry policy: a replayed message that may yet pass waits as a live one would. */
  readonly retryPolicies = new Map<string, RetryPolicy>();

  /** Tracks a piece of work until it settles. */
  track(work: Promise<void>): void {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  /** Removes a subscription from those `stopIntake` drains. */
  forget(sub: Subscription): void {
    const at = this.subscriptions.indexOf(sub);
    if (at !== -1) this.subscriptions.splice(at, 1);
  }
}
