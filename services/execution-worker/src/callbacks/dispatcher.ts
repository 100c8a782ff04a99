import type { Bus } from "@galaxy/bus";
import { GalaxyError, type NotifySecretReply } from "@galaxy/contracts";
import { inWorkspace, type Kysely } from "@galaxy/db";
import { callbackDeliveries, callbackOutcome, inSpan, SpanKind, type Logger } from "@galaxy/observability";
import { OutboundFailedError, OutboundRefusedError, postSigned } from "@galaxy/webhooks";
import type { ExecutionDb } from "../db";
import { retryDelayMs, type CallbackConfig } from "./config";
import { claimDueDeliveries, findPendingAttempt, postpone, recordAttempt, type AttemptOutcome, type DeliveryRow } from "./callbacks.repository";

/** Attempts one timer tick leases at most; the rest wait for the next tick. */
const BATCH = 16;
/** How long a secret the registry answered is kept in memory: a version's secret never changes. */
const SECRET_TTL_MS = 5 * 60_000;
const MAX_SECRETS = 1_000;

export interface CallbackDispatcherDeps {
  db: Kysely<ExecutionDb>;
  bus: Bus;
  logger: Logger;
  config: CallbackConfig;
  now?: () => Date;
}

/**
 * Makes the completion-callback attempts that are due: a timer (and a wake-up for each new
 * delivery) leases them across workspaces, POSTs each signed event to its URL, and records
 * the outcome, scheduling the next attempt with backoff while the retry window lasts. The
 * attempts are rows in Postgres, so a restart loses none; one that was in flight when an
 * instance died becomes due again when its lease runs out.
 */
export class CallbackDispatcher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private readonly secrets = new Map<string, { value: NotifySecretReply; expiresAt: number }>();
  private readonly now: () => Date;

  constructor(private readonly deps: CallbackDispatcherDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => this.wake(), this.deps.config.pollIntervalMs);
    this.wake();
  }

  /** Looks for due attempts now (a delivery was just scheduled). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
  }

  /** Stops the timer and waits for the attempts in flight to be recorded. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private async drain(): Promise<void> {
    const { db, logger, config } = this.deps;
    try {
      for (;;) {
        // The lease outlasts an attempt's timeout, so no other instance makes it meanwhile.
        const due = await claimDueDeliveries(db, BATCH, config.timeoutMs + 30_000);
        if (due.length === 0) return;
        await Promise.all(due.map((attempt) => this.attempt(attempt.id, attempt.workspaceId)));
        if (this.stopped || due.length < BATCH) return;
      }
    } catch (error) {
      logger.error({ err: error }, "could not look for due completion callbacks");
    }
  }

  /** Makes one attempt and records it. Never throws: a failure leaves the attempt due again when its lease ends. */
  async attempt(id: string, workspaceId: string): Promise<void> {
    const { db, logger } = this.deps;
    try {
      const row = await inWorkspace(db, workspaceId, (tx) => findPendingAttempt(tx, id));
      if (!row) return;
      let secret: NotifySecretReply | null;
      try {
        secret = await this.secretFor(row);
      } catch (error) {
        // The registry or identity cannot answer: not an attempt; try again after a pause.
        logger.warn({ err: error, deliveryId: id }, "no callback secret yet; the attempt waits");
        const at = new Date(this.now().getTime() + retryDelayMs(1, this.deps.config));
        await inWorkspace(db, workspaceId, (tx) => postpone(tx, id, at));
        return;
      }
      const outcome = secret === null ? this.noSecret() : await this.send(row, secret);
      await inWorkspace(db, workspaceId, async (tx) => {
        // Still pending and ours: another instance cannot have taken it while the lease held.
        const current = await findPendingAttempt(tx, id);
        if (current) await recordAttempt(tx, current, outcome);
      });
      callbackDeliveries(this.deps.bus.registry).inc({ outcome: callbackOutcome(outcome) });
      logger.info({ deliveryId: id, executionId: row.execution_id, attempt: row.attempt, status: outcome.status, responseStatus: outcome.responseStatus }, "completion callback attempted");
    } catch (error) {
      logger.error({ err: error, deliveryId: id }, "a completion callback attempt could not be recorded");
    }
  }

  /** One attempt, in a CLIENT span continuing the trace of the execution whose end it reports; the receiver gets its `traceparent`. */
  private async send(row: DeliveryRow, secret: NotifySecretReply): Promise<AttemptOutcome> {
    const attributes = { "http.request.method": "POST", "galaxy.callback.attempt": row.attempt, "galaxy.event.type": row.event_type, "galaxy.execution.id": row.execution_id };
    return inSpan(`callback ${row.event_type}`, { traceparent: row.traceparent ?? undefined }, { kind: SpanKind.CLIENT, attributes }, async (traceparent, span) => {
      const outcome = await this.post(row, secret, traceparent);
      span.setAttribute("galaxy.callback.status", outcome.status);
      if (outcome.responseStatus !== null) span.setAttribute("http.response.status_code", outcome.responseStatus);
      return outcome;
    });
  }

  private async post(row: DeliveryRow, secret: NotifySecretReply, traceparent: string | undefined): Promise<AttemptOutcome> {
    const { config } = this.deps;
    const at = this.now();
    try {
      const response = await postSigned({ url: row.url, secret: secret.notifySecret, webhookId: row.event_id, body: row.payload, timeoutMs: config.timeoutMs, policy: config.policy, traceparent });
      if (response.status >= 200 && response.status < 300) return { status: "delivered", responseStatus: response.status, error: null, at, retryAt: null };
      return this.failed(row, at, response.status, `the receiver answered ${response.status}`);
    } catch (error) {
      // Refused by the outbound policy: nothing was sent, and nothing will be (the URL is pinned to the version).
      // A name that does not resolve may resolve later: that one is retried.
      if (error instanceof OutboundRefusedError && error.reason === "unresolvable") return this.failed(row, at, null, `${error.code}: ${error.message}`);
      if (error instanceof OutboundRefusedError) return { status: "failed", responseStatus: null, error: `${error.code}: ${error.reason}: ${error.message}`, at, retryAt: null };
      if (error instanceof OutboundFailedError) return this.failed(row, at, null, `${error.code}: ${error.message}`);
      throw error;
    }
  }

  private failed(row: DeliveryRow, at: Date, responseStatus: number | null, error: string): AttemptOutcome {
    const retryAt = new Date(at.getTime() + retryDelayMs(row.attempt, this.deps.config));
    return { status: "failed", responseStatus, error, at, retryAt: retryAt <= row.give_up_at ? retryAt : null };
  }

  private noSecret(): AttemptOutcome {
    return { status: "failed", responseStatus: null, error: "notify_secret_not_found: the agent version has no callback secret", at: this.now(), retryAt: null };
  }

  /** The version's URL and secret, asked of the registry with the worker's service claim; null when it has none. */
  private async secretFor(row: DeliveryRow): Promise<NotifySecretReply | null> {
    const key = `${row.agent_id}@${row.agent_version}`;
    const hit = this.secrets.get(key);
    if (hit && hit.expiresAt > Date.now()) return hit.value;
    const { bus } = this.deps;
    const claim = await bus.serviceClaims.get(row.workspace_id);
    let value: NotifySecretReply;
    try {
      value = await bus.request("registry.agents.notify_secret", { agentId: row.agent_id, version: row.agent_version }, { claim, workspaceId: row.workspace_id });
    } catch (error) {
      if (error instanceof GalaxyError && error.status === 404) return null;
      throw error;
    }
    if (this.secrets.size >= MAX_SECRETS) this.secrets.clear();
    this.secrets.set(key, { value, expiresAt: Date.now() + SECRET_TTL_MS });
    return value;
  }
}
