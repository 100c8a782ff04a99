import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { signWebhook } from "@galaxy/webhooks";
import type { BenchContext, BenchOutcome } from "./context";
import { sendDeliveries } from "./load/senders";
import { ms, perSecond } from "./stats";

export const NOISY = { burst: 10_000, senders: 64, quietAfterAccepted: 1_000, limitMs: 2_000, timeoutMs: 120_000 };

/**
 * Benchmark 8: workspace A sends a burst of 10,000 signed deliveries from 64 senders; once
 * 1,000 are accepted, workspace B sends one. B's delivery must reach `execution.completed`
 * within 2 s while A's burst is still being taken in. A's executions are left to the end of
 * the run (the bench's processes and database are removed after it).
 */
export async function noisyNeighbour(ctx: BenchContext): Promise<BenchOutcome> {
  const { noisy, quiet } = ctx.tenants;
  const burstStarted = performance.now();
  const burst = sendDeliveries({ url: `${ctx.galaxy.gatewayUrl}/hooks/${noisy.triggerId}`, secret: noisy.secret, count: NOISY.burst, concurrency: NOISY.senders, label: "noisy" }, NOISY.timeoutMs);
  try {
    const waitUntil = performance.now() + 60_000;
    while (burst.progress().accepted < NOISY.quietAfterAccepted) {
      if (performance.now() > waitUntil) throw new Error(`A's burst had ${burst.progress().accepted} deliveries accepted after 60 s`);
      await sleep(50);
    }
    const atSend = burst.progress();
    const id = `msg_${randomUUID()}`;
    const timestamp = Math.floor(Date.now() / 1000);
    const body = JSON.stringify({ message: "the quiet neighbour" });
    const sentAt = performance.now();
    const response = await fetch(`${ctx.galaxy.gatewayUrl}/hooks/${quiet.triggerId}`, {
      method: "POST",
      headers: { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signWebhook(quiet.secret, id, timestamp, body) },
      body,
      signal: AbortSignal.timeout(30_000),
    });
    const acceptedAt = performance.now();
    const answer = (await response.json()) as { data?: { executionId?: string } };
    const executionId = answer.data?.executionId;
    if (response.status !== 202 || !executionId) throw new Error(`B's delivery answered ${response.status}`);
    const doneAt = await ctx.galaxyFinished.wait(executionId, 60_000);
    const atDone = burst.progress();
    const tookMs = doneAt - sentAt;
    ctx.log(`  B completed ${ms(tookMs)} after its POST (202 after ${ms(acceptedAt - sentAt)}); A had ${atSend.accepted} accepted then, ${atDone.accepted} at B's completion`);
    const sent = await burst.done;
    const burstMs = Math.max(...sent.map((s) => s.answeredAt)) - (performance.timeOrigin + burstStarted);
    const accepted = sent.filter((s) => s.status === 202).length;
    ctx.log(`  A: ${accepted} of ${NOISY.burst} accepted in ${(burstMs / 1000).toFixed(1)} s`);
    return {
      rows: [
        { benchmark: "8. noisy neighbour", metric: `B's delivery → completed, during A's ${NOISY.burst.toLocaleString("en-US")}`, galaxy: ms(tookMs), baseline: "—", ratio: "—", target: `≤ ${NOISY.limitMs / 1000} s`, met: tookMs <= NOISY.limitMs },
        { benchmark: "8. noisy neighbour", metric: "A's deliveries accepted when B's sent / completed", galaxy: `${atSend.accepted} / ${atDone.accepted}`, baseline: "—", ratio: "—", target: "—", met: null },
      ],
      notes: [
        `Noisy neighbour: B's POST answered 202 after ${ms(acceptedAt - sentAt)}, its execution.completed seen ${ms(tookMs)} after the POST. A's burst: ${accepted} of ${NOISY.burst} accepted in ${(burstMs / 1000).toFixed(1)} s (${perSecond((accepted * 1000) / burstMs, "delivery")}), ${atSend.accepted} when B sent and ${atDone.accepted} when B's execution completed (progress as the senders report it every 200 ms).`,
      ],
    };
  } finally {
    burst.abort();
  }
}
