import { performance } from "node:perf_hooks";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { z } from "zod";

// The part of an `execution.completed` / `execution.failed` event the benchmarks read. The
// bare baselines publish the same shape, so one watcher serves both sides.
const FinishedEvent = z.object({
  type: z.string(),
  data: z.object({ execution: z.object({ id: z.string(), status: z.string(), error: z.object({ code: z.string(), message: z.string() }).nullish() }) }),
});

interface Waiter {
  resolve: (at: number) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Watches finished executions on core NATS (`<prefix>.evt.*.execution.completed|failed`) and
 * tells when each was first seen (`performance.now()`). An event may arrive before anyone waits
 * for it (before the 202 reaches the client): it is kept until asked for.
 */
export class CompletionWatcher {
  private readonly seen = new Map<string, { at: number; failure: string | null }>();
  private readonly waiters = new Map<string, Waiter>();
  private readonly subscriptions: Subscription[];
  private malformed = 0;

  constructor(nc: NatsConnection, subjectPrefix: string) {
    const subscribe = (type: string) =>
      nc.subscribe(`${subjectPrefix}.evt.*.execution.${type}`, {
        callback: (error, msg) => {
          if (error) return;
          this.onEvent(msg.data);
        },
      });
    this.subscriptions = [subscribe("completed"), subscribe("failed")];
  }

  /** Events that could not be read (should stay 0). */
  get malformedEvents(): number {
    return this.malformed;
  }

  /** When `id` finished; rejects if it failed or nothing came within `timeoutMs`. */
  wait(id: string, timeoutMs: number): Promise<number> {
    const known = this.seen.get(id);
    if (known) {
      this.seen.delete(id);
      return known.failure === null ? Promise.resolve(known.at) : Promise.reject(new Error(`execution ${id} failed: ${known.failure}`));
    }
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(id);
        reject(new Error(`execution ${id} did not finish within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(id, { resolve, reject, timer });
    });
  }

  stop(): void {
    for (const sub of this.subscriptions) sub.unsubscribe();
    for (const [id, waiter] of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error(`stopped watching before ${id} finished`));
    }
    this.waiters.clear();
    this.seen.clear();
  }

  private onEvent(data: Uint8Array): void {
    const at = performance.now();
    let parsed: z.infer<typeof FinishedEvent>;
    try {
      parsed = FinishedEvent.parse(JSON.parse(new TextDecoder().decode(data)));
    } catch {
      this.malformed++;
      return;
    }
    const { execution } = parsed.data;
    const failure = parsed.type.endsWith(".completed") ? null : `${execution.status}${execution.error ? ` (${execution.error.code}: ${execution.error.message})` : ""}`;
    const waiter = this.waiters.get(execution.id);
    if (!waiter) {
      // At least once: a redelivered event keeps the first sighting.
      if (!this.seen.has(execution.id)) this.seen.set(execution.id, { at, failure });
      return;
    }
    this.waiters.delete(execution.id);
    clearTimeout(waiter.timer);
    if (failure === null) waiter.resolve(at);
    else waiter.reject(new Error(`execution ${execution.id} failed: ${failure}`));
  }
}
