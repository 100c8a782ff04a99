import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { Bus } from "@galaxy/bus";
import { CancelSignal } from "@galaxy/contracts";
import { z } from "zod";
import { inWorkspace, isDbReachable, OutboxRelay, type Kysely } from "@galaxy/db";
import type { Logger } from "@galaxy/observability";
import { parseAllowlist } from "@galaxy/webhooks";
import { AGENT_EVENTS, AGENT_PROJECTION_CONSUMER, agentProjectionHandler } from "./agents/agents.projection";
import { CallbackDispatcher, callbackHandler, CallbackOrders, DEFAULT_CALLBACK_SETTINGS, DeliveriesService, NotifyUrls, runRetiredCallbackConsumer, type CallbackSettings } from "./callbacks";
import { CredentialResolver } from "./credentials/credential-resolver";
import type { ExecutionDb } from "./db";
import { claimQueuedExecutions, findExecution, renewLease } from "./executions/executions.repository";
import { CANCEL_SUBJECT, ExecutionService } from "./executions/executions.service";
import { BatchIntake } from "./executions/batch-intake";
import { Intake } from "./executions/intake";
import { runExecution, type RunDeps } from "./executions/run";
import { ModelProviders } from "./executions/providers";
import { Scheduler } from "./executions/scheduler";
import { QueueDepth } from "./executions/queue-depth";
import { serveToolSecret } from "./tools/tool-secret.handler";
import { WorkerReplay } from "./replay/replay.handlers";
import { TierAdmin } from "./quota/tier-admin";
import { WEBHOOK_BATCH, WEBHOOK_CONSUMER, WEBHOOK_EVENTS, WEBHOOK_LINGER_MS, webhookIntakeHandler } from "./webhooks/webhooks.consumer";

export interface ExecutionWorkerConfig {
  openaiApiKey: string;
  openaiBaseUrl: string;
  /** Both must be set for Anthropic agents to run; otherwise they fail with `provider_not_configured`. */
  anthropicApiKey?: string | undefined;
  anthropicBaseUrl?: string | undefined;
  /** Both must be set for Google (Gemini) agents to run; otherwise they fail with `provider_not_configured`. */
  googleApiKey?: string | undefined;
  googleBaseUrl?: string | undefined;
  /** Executions this instance runs at once (default `DEFAULT_CONCURRENCY`, 32). */
  concurrency?: number | undefined;
  /** Retries of a failed model call (default 2). */
  maxRetries?: number | undefined;
  /** How long a workspace's provider credential is kept in memory (default 60 s; a change drops it at once). */
  credentialTtlMs?: number | undefined;
  /** How long a claimed execution stays this instance's without renewal (default 30 s). */
  leaseMs?: number | undefined;
  /** How long a claimed run's start waits to be written with its end before it is written on its own (default 1 s; docs/decisions/0030). */
  startWriteDelayMs?: number | undefined;
  /** The scheduler's safety poll (default 2 s). */
  pollIntervalMs?: number | undefined;
  /** The model call's limit for agents without `timeoutMs` (default 10 min). */
  defaultTimeoutMs?: number | undefined;
  /** Attempts before an execution whose workers kept dying fails (default 3). */
  maxAttempts?: number | undefined;
  /**
   * How long `stop()` lets running executions finish (default 10 s). After it their model
   * calls are aborted and they go back to the queue for another instance.
   */
  shutdownGraceMs?: number | undefined;
  /** `OUTBOUND_HOST_ALLOWLIST`: where webhook tools may go (empty: public hosts only). */
  outboundHostAllowlist?: string | undefined;
  /** `GALAXY_MASTER_KEY`: webhook tools' signing secrets derive from it; without it, webhook tools fail. */
  masterKey?: string | undefined;
  /** How long a webhook tool may take (default 10 s). */
  toolTimeoutMs?: number | undefined;
  /** Rounds of tool calls an execution may take (default 5). */
  maxToolRounds?: number | undefined;
  /** Completion callbacks: backoff, retry window, timeout, timer (src/callbacks/config.ts); they go where `outboundHostAllowlist` allows. */
  callbacks?: Partial<CallbackSettings> | undefined;
  /** How often `galaxy_executions_queue_depth` counts the queue (default 15 s). */
  queueDepthIntervalMs?: number | undefined;
  /** The first pause of claiming after identity gave no service claim (default 500 ms); it doubles each time. */
  unavailableBackoffMs?: number | undefined;
  /** The longest such pause (default 5 s): how soon after identity is back the worker runs again. */
  unavailableBackoffMaxMs?: number | undefined;
}

export interface ExecutionWorkerDeps {
  db: Kysely<ExecutionDb>;
  bus: Bus;
  logger: Logger;
  config: ExecutionWorkerConfig;
}

export interface ExecutionWorker {
  scheduler: Scheduler;
  executions: ExecutionService;
  /** This instance's name on the leases it holds. */
  owner: string;
  start(): Promise<void>;
  /**
   * Stops claiming, lets running executions finish for up to `shutdownGraceMs`, then hands the
   * rest back to the queue; call after `bus.stopIntake()`.
   */
  stop(): Promise<void>;
  readiness(): Promise<Record<string, boolean>>;
}

/**
 * Core NATS only (outside `evt.>`, so JetStream keeps nothing): an instance queued an execution
 * it did not take, or handed executions back to the queue on its way out. It is not an event,
 * and an instance ignores its own: it woke its scheduler when it committed.
 */
export const WAKE_SUBJECT = "sig.execution.wake";
const WakeSignal = z.object({ from: z.string() });
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;
/**
 * Executions one instance runs at once. A run waiting for its model holds no database
 * connection and next to no CPU, so this bounds how many model calls are in flight: with a
 * model that answers in 200 ms, 8 held an instance to 38 executions/s, 32 gave 132 and 64 gave
 * 175. Not 64: when runs are all CPU (a model that answers at once), more of them at once slow
 * the intake of another workspace's delivery, 0.90–1.21 s to completion behind a burst against
 * 0.57–0.89 s at 32 and 0.26–0.36 s at 8 (docs/decisions/0037).
 */
export const DEFAULT_CONCURRENCY = 32;
/** `EXECUTION_CONCURRENCY` as the worker reads it (and `make bench`, to run its BullMQ baseline at the same). */
export const ExecutionConcurrency = z.coerce.number().int().min(1).max(1024).default(DEFAULT_CONCURRENCY);

/**
 * How long the events this worker published wait to be marked published, together: one mark
 * for every execution of that half second instead of one for two or three (decision 0018).
 * The sweep leaves an unpublished event alone until it is older than a mark's wait with a
 * margin, so it does not publish again what is only waiting for its mark.
 */
const OUTBOX_MARK_DELAY_MS = 500;
const OUTBOX_SWEEP_AGE_MS = 2_000;

/** Builds the execution worker from its dependencies; `main.ts` runs it, tests build it too. */
export function createExecutionWorker(deps: ExecutionWorkerDeps): ExecutionWorker {
  const { db, bus, logger, config } = deps;
  const owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const leaseMs = config.leaseMs ?? 30_000;
  const relay = new OutboxRelay({ db, publish: (row) => bus.publishEvent(row), logger, metrics: bus.registry, markDelayMs: OUTBOX_MARK_DELAY_MS, sweepAgeMs: OUTBOX_SWEEP_AGE_MS });
  const credentials = new CredentialResolver({ bus, ttlMs: config.credentialTtlMs });
  // Where a workspace's provider base URL, a webhook tool and a completion callback may point.
  const outboundPolicy = parseAllowlist(config.outboundHostAllowlist);
  const providers = new ModelProviders({
    credentials,
    openaiApiKey: config.openaiApiKey,
    openaiBaseUrl: config.openaiBaseUrl,
    anthropicApiKey: config.anthropicApiKey,
    anthropicBaseUrl: config.anthropicBaseUrl,
    googleApiKey: config.googleApiKey,
    googleBaseUrl: config.googleBaseUrl,
    maxRetries: config.maxRetries,
    outboundPolicy,
  });
  const wakeOthers = () => bus.publishCore(WAKE_SUBJECT, { from: owner });
  const callbackConfig = { ...DEFAULT_CALLBACK_SETTINGS, ...config.callbacks, policy: outboundPolicy };
  const callbacks = new CallbackDispatcher({ db, bus, logger, config: callbackConfig });
  const callbackOrders = new CallbackOrders({ retryWindowMs: callbackConfig.retryWindowMs, wake: () => callbacks.wake() });
  const pipeline: RunDeps = {
    db,
    bus,
    relay,
    providers,
    logger,
    owner,
    defaultTimeoutMs: config.defaultTimeoutMs ?? 600_000,
    maxAttempts: config.maxAttempts ?? 3,
    wakeOthers,
    tools: { policy: outboundPolicy, masterKey: config.masterKey, timeoutMs: config.toolTimeoutMs ?? 10_000 },
    maxToolRounds: config.maxToolRounds,
    startWriteDelayMs: config.startWriteDelayMs,
    callbacks: callbackOrders,
  };
  const scheduler = new Scheduler({
    concurrency: config.concurrency ?? DEFAULT_CONCURRENCY,
    leaseMs,
    pollIntervalMs: config.pollIntervalMs ?? 2_000,
    shutdownGraceMs: config.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS,
    backoffMs: config.unavailableBackoffMs ?? 500,
    maxBackoffMs: config.unavailableBackoffMaxMs ?? 5_000,
    claim: (limit) => claimQueuedExecutions(db, owner, limit, leaseMs),
    run: (execution, signals) => runExecution(pipeline, execution, signals),
    renew: (execution) => inWorkspace(db, execution.workspaceId, (tx) => renewLease(tx, execution.id, owner, leaseMs)),
    logger,
  });

  const queueDepth = new QueueDepth(db, bus.registry, logger, config.queueDepthIntervalMs ?? 15_000);
  const deliveries = new DeliveriesService({ db, relay });

  const intakeDeps = {
    db,
    bus,
    relay,
    owner,
    leaseMs,
    reserve: () => scheduler.reserve(),
    onQueued: () => {
      scheduler.wake();
      wakeOthers();
    },
  };
  const intake = new Intake(intakeDeps);
  const batchIntake = new BatchIntake({ ...intakeDeps, intake });
  const executions = new ExecutionService({ db, bus, relay, intake, callbacks: callbackOrders });

  // Operator replays of the agent projection and dead-letter redrives, driven by audit (docs/replay.md).
  const replay = new WorkerReplay({ db, bus, logger, intake });
  const tiers = new TierAdmin({ db, bus, relay });

  return {
    scheduler,
    executions,
    owner,
    async start() {
      replay.serve();
      tiers.serve();
      bus.serve("execution.start", (request, ctx) => executions.start(request, ctx));
      bus.serve("execution.get", (request, ctx) => executions.get(request.id, ctx));
      serveToolSecret(bus, config.masterKey);
      bus.serve("execution.list", (request, ctx) => executions.list(request, ctx));
      bus.serve("execution.cancel", (request, ctx) => executions.cancel(request.id, ctx));
      bus.serve("execution.events.list", (request, ctx) => executions.events(request, ctx));
      bus.serve("execution.statuses", (request, ctx) => executions.statuses(request, ctx));
      bus.serve("execution.deliveries.list", (request, ctx) => deliveries.list(request, ctx));
      await bus.consume({ durable: AGENT_PROJECTION_CONSUMER, filter: AGENT_EVENTS, handler: replay.liveHandler(agentProjectionHandler(db)) });
      await bus.consumeBatch({ durable: WEBHOOK_CONSUMER, filter: WEBHOOK_EVENTS, maxBatch: WEBHOOK_BATCH, lingerMs: WEBHOOK_LINGER_MS, handler: webhookIntakeHandler({ bus, intake: batchIntake }) });
      await runRetiredCallbackConsumer(bus, logger, callbackHandler(new NotifyUrls(db), db, callbackConfig, () => callbacks.wake()));
      callbacks.start();
      bus.subscribeCore(WAKE_SUBJECT, (data) => {
        // Any doubt (a signal we cannot read) wakes: a spare claim costs one query.
        const wake = WakeSignal.safeParse(data);
        if (!wake.success || wake.data.from !== owner) scheduler.wake();
      });
      // A cancel of a running execution, from whichever instance took the request: only the
      // one running it acts, and only after reading that the cancel is recorded, so a signal
      // (even a forged one) stops nothing that was not cancelled.
      bus.subscribeCore(CANCEL_SUBJECT, (data) => {
        const signal = CancelSignal.safeParse(data);
        if (!signal.success || !scheduler.isRunning(signal.data.executionId)) return;
        const { executionId, workspaceId } = signal.data;
        inWorkspace(db, workspaceId, (tx) => findExecution(tx, executionId))
          .then((row) => {
            if (row?.cancel_requested_at) scheduler.cancel(executionId);
          })
          .catch((error: unknown) => logger.warn({ err: error, executionId }, "could not read a cancelled execution; its pipeline sees the cancel at its next check"));
      });
      credentials.listen();
      relay.start();
      // What a predecessor left unpublished; events younger than the sweep's age are still
      // another running instance's to publish and mark (it marks in batches).
      await relay.sweep();
      scheduler.start();
      queueDepth.start();
    },
    async stop() {
      await queueDepth.stop();
      await scheduler.stop();
      await callbacks.stop();
      await relay.stop();
    },
    async readiness() {
      return { database: await isDbReachable(db), bus: bus.isConnected() };
    },
  };
}
