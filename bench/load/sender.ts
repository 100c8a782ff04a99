import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { connect } from "@nats-io/transport-node";
import { z } from "zod";
import { signWebhook } from "@galaxy/webhooks";
import { CompletionWatcher } from "../completions";
import { HttpPoster } from "./http-post";

// A process of signed webhook senders (bench/load/senders.ts forks it): `concurrency` senders,
// each posting its next delivery once the previous one is answered, `count` in all, each a new
// delivery signed the Standard Webhooks way. With `untilCompleted`, a sender waits until the
// execution of its delivery is seen completed on the bus before its next (a closed loop: as
// many executions in flight as senders). It reports its progress every 200 ms and, at the
// end, when each delivery was sent, answered and (with `untilCompleted`) completed, in
// milliseconds since the epoch to the microsecond, with the execution id of its 202, and the
// CPU the senders' process used (it shares the machine's cores with what it measures).

export const SendPlan = z.object({
  url: z.string(),
  secret: z.string(),
  count: z.number().int().min(1),
  concurrency: z.number().int().min(1),
  label: z.string(),
  untilCompleted: z.object({ natsUrl: z.string(), busPrefix: z.string(), timeoutMs: z.number().int().min(1) }).optional(),
});
export type SendPlan = z.infer<typeof SendPlan>;

export interface Sent {
  sentAt: number;
  answeredAt: number;
  status: number;
  executionId: string | undefined;
  /** With `untilCompleted`: when its `execution.completed` was seen. */
  completedAt?: number;
}

export type SenderMessage = { type: "progress"; answered: number; accepted: number } | { type: "done"; sent: Sent[]; cpuSeconds: number } | { type: "failed"; reason: string };

const Accepted = z.object({ data: z.object({ executionId: z.string() }) });
const now = () => performance.timeOrigin + performance.now();

async function deliver(poster: HttpPoster, plan: SendPlan, index: number): Promise<Sent> {
  const id = `msg_${randomUUID()}`;
  const timestamp = Math.floor(Date.now() / 1000);
  const body = JSON.stringify({ message: `${plan.label} ${index}` });
  const sentAt = now();
  try {
    const headers = { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signWebhook(plan.secret, id, timestamp, body) };
    const { status, text } = await poster.post(plan.url, headers, body, 30_000);
    const parsed = status === 202 ? Accepted.safeParse(JSON.parse(text)) : undefined;
    return { sentAt, answeredAt: now(), status, executionId: parsed?.success ? parsed.data.data.executionId : undefined };
  } catch {
    return { sentAt, answeredAt: now(), status: 0, executionId: undefined };
  }
}

/** The deliveries, and the CPU seconds this process used sending them (its start-up aside). */
async function run(plan: SendPlan): Promise<{ sent: Sent[]; cpuSeconds: number }> {
  const nc = plan.untilCompleted ? await connect({ servers: plan.untilCompleted.natsUrl, name: "galaxy-bench-sender" }) : undefined;
  const watcher = nc && plan.untilCompleted ? new CompletionWatcher(nc, plan.untilCompleted.busPrefix) : undefined;
  await nc?.flush();
  const cpuAtStart = process.cpuUsage();
  const poster = new HttpPoster(plan.concurrency);
  const sent = new Array<Sent>(plan.count);
  let next = 0;
  let answered = 0;
  let accepted = 0;
  const progress = setInterval(() => process.send?.({ type: "progress", answered, accepted } satisfies SenderMessage), 200);
  try {
    await Promise.all(
      Array.from({ length: Math.min(plan.concurrency, plan.count) }, async () => {
        while (next < plan.count) {
          const index = next++;
          const result = await deliver(poster, plan, index);
          if (watcher && plan.untilCompleted && result.executionId) {
            result.completedAt = performance.timeOrigin + (await watcher.wait(result.executionId, plan.untilCompleted.timeoutMs));
          }
          sent[index] = result;
          answered++;
          if (result.status === 202) accepted++;
        }
      }),
    );
  } finally {
    clearInterval(progress);
    poster.close();
    watcher?.stop();
    await nc?.close();
  }
  process.send?.({ type: "progress", answered, accepted } satisfies SenderMessage);
  const { user, system } = process.cpuUsage(cpuAtStart);
  return { sent, cpuSeconds: (user + system) / 1e6 };
}

process.once("message", (message: unknown) => {
  const plan = SendPlan.parse(message);
  run(plan).then(
    ({ sent, cpuSeconds }) => process.send?.({ type: "done", sent, cpuSeconds } satisfies SenderMessage, () => process.exit(0)),
    (error: unknown) => process.send?.({ type: "failed", reason: error instanceof Error ? error.message : String(error) } satisfies SenderMessage, () => process.exit(1)),
  );
});
