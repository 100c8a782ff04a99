import { setTimeout as sleep } from "node:timers/promises";
import type { FastifyPluginAsync } from "fastify";
import { z } from "zod";
import { FAULT_STATUSES, type FaultStatus, IncorrectApiKeyError, InjectedFaultError, openAIErrorResponse } from "./errors";
import { parseBody } from "./parse";

/** Body of `POST /_control`. `reset` is applied first, so one call can reset and arm. */
export const ControlUpdate = z.strictObject({
  latencyMs: z.int().min(0).max(60_000).optional(),
  failNext: z
    .strictObject({
      count: z.int().min(0),
      status: z.literal(FAULT_STATUSES),
      /** The `retry-after` (seconds) a 429 or 503 carries (Gemini: its `RetryInfo.retryDelay`); 0 unless set, so retry tests stay fast. */
      retryAfterS: z.int().min(0).max(60).optional(),
    })
    .optional(),
  /** Model calls must then present this key (OpenAI: `Authorization: Bearer`, Anthropic: `x-api-key`, Gemini: `x-goog-api-key`), else 401; null lifts it. */
  requireApiKey: z.string().min(1).nullable().optional(),
  reset: z.literal(true).optional(),
});
export type ControlUpdate = z.infer<typeof ControlUpdate>;

export interface ControlSettings {
  /** Delay before every model call answers. */
  latencyMs: number;
  /** The next `count` model calls fail with `status` (and `retry-after: retryAfterS`); null when disarmed. */
  failNext: { count: number; status: FaultStatus; retryAfterS: number } | null;
  /** Model calls that reached the server since the last reset, failed ones included. */
  modelCalls: number;
  /** Whether model calls must present the key set by `requireApiKey` (the key itself is never shown). */
  apiKeyRequired: boolean;
  /** The last four characters of the key the latest model call presented, so a test can tell which key was used. */
  lastApiKeyLast4: string | null;
}

/**
 * Fault switches for tests, one set per server instance. Model calls (chat,
 * messages, embeddings) pass through `admit` before they are even parsed,
 * the way a provider's rate limiter sits in front of its API.
 */
export class FaultSwitches {
  #latencyMs = 0;
  #failNext: { count: number; status: FaultStatus; retryAfterS: number } | null = null;
  #modelCalls = 0;
  #requiredApiKey: string | null = null;
  #lastApiKeyLast4: string | null = null;

  settings(): ControlSettings {
    return {
      latencyMs: this.#latencyMs,
      failNext: this.#failNext && { ...this.#failNext },
      apiKeyRequired: this.#requiredApiKey !== null,
      lastApiKeyLast4: this.#lastApiKeyLast4,
      modelCalls: this.#modelCalls,
    };
  }

  update(update: ControlUpdate): ControlSettings {
    if (update.reset) {
      this.#latencyMs = 0;
      this.#failNext = null;
      this.#requiredApiKey = null;
      this.#lastApiKeyLast4 = null;
      this.#modelCalls = 0;
    }
    if (update.requireApiKey !== undefined) this.#requiredApiKey = update.requireApiKey;
    if (update.latencyMs !== undefined) this.#latencyMs = update.latencyMs;
    if (update.failNext !== undefined) {
      const { count, status, retryAfterS = 0 } = update.failNext;
      this.#failNext = count > 0 ? { count, status, retryAfterS } : null;
    }
    return this.settings();
  }

  /**
   * Checks the presented API key when one is required (a wrong or missing key is a 401, as
   * at a provider, before any fault is claimed), waits out the configured latency, then
   * throws an `InjectedFaultError` if a failure is armed.
   */
  async admit(apiKey?: string | undefined): Promise<void> {
    this.#modelCalls += 1;
    this.#lastApiKeyLast4 = apiKey ? apiKey.slice(-4) : null;
    if (this.#requiredApiKey !== null && apiKey !== this.#requiredApiKey) throw new IncorrectApiKeyError(apiKey);
    // The failure is claimed on arrival, so concurrent calls consume it in arrival order.
    const fault = this.#claimFault();
    if (this.#latencyMs > 0) await sleep(this.#latencyMs);
    if (fault !== null) throw new InjectedFaultError(fault.status, fault.retryAfterS);
  }

  #claimFault(): { status: FaultStatus; retryAfterS: number } | null {
    if (!this.#failNext) return null;
    const { status, retryAfterS, count } = this.#failNext;
    this.#failNext = count > 1 ? { status, retryAfterS, count: count - 1 } : null;
    return { status, retryAfterS };
  }
}

/** `GET /_control` and `POST /_control`. */
export const controlRoutes: FastifyPluginAsync<{ faults: FaultSwitches }> = async (app, { faults }) => {
  app.setErrorHandler((error, _request, reply) => {
    const response = openAIErrorResponse(error);
    return reply.code(response.statusCode).headers(response.headers).send(response.body);
  });

  app.get("/_control", async () => faults.settings());

  app.post("/_control", async (request) => faults.update(parseBody(ControlUpdate, request.body ?? {})));
};
