import { setTimeout as sleep } from "node:timers/promises";
import type { FastifyPluginAsync } from "fastify";
import { z } from "zod";
import { FAULT_STATUSES, type FaultStatus, InjectedFaultError, openAIErrorResponse } from "./errors";
import { parseBody } from "./parse";

/** Body of `POST /_control`. `reset` is applied first, so one call can reset and arm. */
export const ControlUpdate = z.strictObject({
  latencyMs: z.int().min(0).max(60_000).optional(),
  failNext: z
    .strictObject({
      count: z.int().min(0),
      status: z.literal(FAULT_STATUSES),
    })
    .optional(),
  reset: z.literal(true).optional(),
});
export type ControlUpdate = z.infer<typeof ControlUpdate>;

export interface ControlSettings {
  /** Delay before every model call answers. */
  latencyMs: number;
  /** The next `count` model calls fail with `status`; null when disarmed. */
  failNext: { count: number; status: FaultStatus } | null;
}

/**
 * Fault switches for tests, one set per server instance. Model calls (chat,
 * messages, embeddings) pass through `admit` before they are even parsed,
 * the way a provider's rate limiter sits in front of its API.
 */
export class FaultSwitches {
  #latencyMs = 0;
  #failNext: { count: number; status: FaultStatus } | null = null;

  settings(): ControlSettings {
    return { latencyMs: this.#latencyMs, failNext: this.#failNext && { ...this.#failNext } };
  }

  update(update: ControlUpdate): ControlSettings {
    if (update.reset) {
      this.#latencyMs = 0;
      this.#failNext = null;
    }
    if (update.latencyMs !== undefined) this.#latencyMs = update.latencyMs;
    if (update.failNext !== undefined) this.#failNext = update.failNext.count > 0 ? { ...update.failNext } : null;
    return this.settings();
  }

  /** Waits out the configured latency, then throws an `InjectedFaultError` if a failure is armed. */
  async admit(): Promise<void> {
    // The failure is claimed on arrival, so concurrent calls consume it in arrival order.
    const fault = this.#claimFault();
    if (this.#latencyMs > 0) await sleep(this.#latencyMs);
    if (fault !== null) throw new InjectedFaultError(fault);
  }

  #claimFault(): FaultStatus | null {
    if (!this.#failNext) return null;
    const { status } = this.#failNext;
    this.#failNext = this.#failNext.count > 1 ? { status, count: this.#failNext.count - 1 } : null;
    return status;
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
