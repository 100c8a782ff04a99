import { z } from "zod";
import { signWebhook } from "@galaxy/webhooks";
import { sleep } from "./child";
import { call, codeOf, type Answer } from "./http";
import type { Tenant } from "./tenant";

export type ItemKind = "delivery" | "start";

/** One answer the load driver got, and when. */
export interface Attempt {
  at: number;
  status: number;
  code: string | undefined;
  /** Whether a 503 (or 429) carried `Retry-After`. */
  retryAfter: boolean;
  failure: string | undefined;
}

/** One delivery or API start, resent with the same `webhook-id` / `Idempotency-Key` until a 2xx. */
export interface ItemResult {
  kind: ItemKind;
  /** The run's key: its input message, `webhook-id` (after `msg_`) or `Idempotency-Key`. */
  key: string;
  tenant: Tenant;
  attempts: Attempt[];
  /** The execution id of the 2xx answer; undefined when none came in time. */
  executionId: string | undefined;
}

export interface LoadPlan {
  /** Lower-case letters and digits: the run's keys are `fault-<run>-d<n>` and `fault-<run>-s<n>`. */
  run: string;
  tenants: readonly Tenant[];
  deliveries: number;
  starts: number;
  /** The items are started evenly over this time. */
  spreadMs: number;
  /** An item stops resending this long after its first attempt. */
  giveUpAfterMs: number;
  /** Requests in flight at most (a sender's connection pool). */
  concurrency?: number;
}

const Accepted = z.object({ data: z.object({ executionId: z.string() }) });
const Started = z.object({ data: z.object({ id: z.string() }) });

/**
 * Drives deliveries and API starts into the gateway, as well-behaved senders would: no answer,
 * a 5xx, a 409 or a 429 is retried with the same key after a capped backoff (honouring
 * `Retry-After` up to the cap), until a 2xx or `giveUpAfterMs`; any other 4xx is final. Every
 * answer is recorded.
 */
export async function driveLoad(gatewayUrl: () => string, plan: LoadPlan): Promise<ItemResult[]> {
  const slots = new Semaphore(plan.concurrency ?? 24);
  const total = plan.deliveries + plan.starts;
  const items: Array<{ kind: ItemKind; key: string; tenant: Tenant }> = [];
  for (let i = 0; i < total; i++) {
    // Exactly `starts` of them are API starts, spread evenly among the deliveries, so both kinds meet the fault.
    const kind: ItemKind = Math.floor(((i + 1) * plan.starts) / total) > Math.floor((i * plan.starts) / total) ? "start" : "delivery";
    items.push({ kind, key: `fault-${plan.run}-${kind === "start" ? "s" : "d"}${i}`, tenant: plan.tenants[i % plan.tenants.length] as Tenant });
  }
  const began = Date.now();
  return Promise.all(
    items.map(async (item, index) => {
      await sleep(Math.max(0, began + (plan.spreadMs * index) / Math.max(1, total) - Date.now()));
      return sendUntilAccepted(gatewayUrl, item, plan.giveUpAfterMs, slots);
    }),
  );
}

async function sendUntilAccepted(gatewayUrl: () => string, item: { kind: ItemKind; key: string; tenant: Tenant }, giveUpAfterMs: number, slots: Semaphore): Promise<ItemResult> {
  const result: ItemResult = { ...item, attempts: [], executionId: undefined };
  const deadline = Date.now() + giveUpAfterMs;
  let backoffMs = 250;
  while (Date.now() < deadline) {
    const answer = await slots.run(() => (item.kind === "delivery" ? deliver(gatewayUrl(), item.tenant, item.key) : start(gatewayUrl(), item.tenant, item.key)));
    const retryAfter = answer.headers?.get("retry-after") ?? null;
    result.attempts.push({ at: Date.now(), status: answer.status, code: codeOf(answer), retryAfter: retryAfter !== null, failure: answer.failure });
    if (answer.status >= 200 && answer.status < 300) {
      const parsed = item.kind === "delivery" ? Accepted.safeParse(answer.body) : Started.safeParse(answer.body);
      result.executionId = parsed.success ? ("executionId" in parsed.data.data ? parsed.data.data.executionId : parsed.data.data.id) : undefined;
      return result;
    }
    // A refusal is final, as for any sender; only "in progress" and "too many" say to retry.
    if (answer.status >= 400 && answer.status < 500 && answer.status !== 409 && answer.status !== 429) return result;
    const hinted = retryAfter !== null && /^\d+$/.test(retryAfter) ? Number(retryAfter) * 1000 : backoffMs;
    await sleep(Math.min(2_000, Math.max(backoffMs, hinted)) * (0.75 + Math.random() * 0.5));
    backoffMs = Math.min(2_000, backoffMs * 2);
  }
  return result;
}

/** A Standard Webhooks delivery; a resend is signed again with its own timestamp, as senders do. */
function deliver(gatewayUrl: string, tenant: Tenant, key: string): Promise<Answer> {
  const id = `msg_${key}`;
  const body = JSON.stringify({ message: key });
  const timestamp = Math.floor(Date.now() / 1000);
  return call(gatewayUrl, "POST", `/hooks/${tenant.triggerId}`, {
    body,
    headers: { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signWebhook(tenant.secret, id, timestamp, body) },
  });
}

function start(gatewayUrl: string, tenant: Tenant, key: string): Promise<Answer> {
  return call(gatewayUrl, "POST", `/api/agents/${tenant.agentId}/executions`, { token: tenant.token, body: { input: { message: key } }, headers: { "idempotency-key": key } });
}

class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly size: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}
