import { performance } from "node:perf_hooks";
import type { CompletionWatcher } from "../completions";
import { summarize, within, type LatencySummary } from "../stats";
import type { Sent } from "./sender";

/** What a run of deliveries came to, webhook POST to `execution.completed` seen on the bus. */
export interface DeliveryFigures {
  count: number;
  /** Executions per second, from the first POST to the last `execution.completed`. */
  perSecond: number;
  elapsedMs: number;
  /** From the first POST to the last 202. */
  acceptedMs: number;
  /** Executions completed by the time of the last 202. */
  completedWhileAccepting: number;
  /** POST → `execution.completed` seen, per delivery. */
  latency: LatencySummary;
  /** POST → 202, per delivery. */
  accept: LatencySummary;
}

/**
 * Waits (at most `timeoutMs` in all) for the execution of every accepted delivery in `sent`
 * (unless the senders waited for each themselves)
 * (the first `skip` are a warm-up, waited for but not counted) and times them. Every delivery
 * must have been accepted.
 */
export async function timeDeliveries(sent: readonly Sent[], watcher: CompletionWatcher, timeoutMs: number, skip = 0): Promise<DeliveryFigures> {
  const refused = sent.filter((s) => s.status !== 202 || !s.executionId);
  if (refused.length > 0) throw new Error(`${refused.length} of ${sent.length} deliveries not accepted (first answer ${refused[0]?.status})`);
  // The watcher's clock is this process's `performance.now()`; the senders' is the epoch. Senders that waited for each completion timed it themselves.
  const seen = await within(
    Promise.all(sent.map((s) => (s.completedAt !== undefined ? Promise.resolve(s.completedAt) : watcher.wait(s.executionId ?? "", timeoutMs).then((at) => performance.timeOrigin + at)))),
    timeoutMs + 1_000,
    "every execution to complete",
  );
  const counted = sent.slice(skip);
  const done = seen.slice(skip);
  const first = Math.min(...counted.map((s) => s.sentAt));
  const last = Math.max(...done);
  const elapsedMs = last - first;
  const lastAccepted = Math.max(...counted.map((s) => s.answeredAt));
  return {
    count: counted.length,
    perSecond: (counted.length * 1000) / elapsedMs,
    elapsedMs,
    acceptedMs: lastAccepted - first,
    completedWhileAccepting: done.filter((at) => at <= lastAccepted).length,
    latency: summarize(counted.map((s, i) => (done[i] ?? Number.NaN) - s.sentAt)),
    accept: summarize(counted.map((s) => s.answeredAt - s.sentAt)),
  };
}
