import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import Fastify from "fastify";
import { z } from "zod";
import { CreatedTrigger } from "@galaxy/contracts";
import { verifyWebhook } from "@galaxy/webhooks";
import { publishEvent } from "./bare";
import type { BenchContext, BenchOutcome } from "./context";
import { ms, perSecond, ratio, withLoopUtilization, within } from "./stats";

export interface WebhookBenchOptions {
  connections: number;
  durationS: number;
  warmupS: number;
}

export const WEBHOOK_BENCH_DEFAULTS: WebhookBenchOptions = { connections: 16, durationS: 8, warmupS: 2 };

const SETUP_REQUEST = fileURLToPath(new URL("./webhooks-request.cjs", import.meta.url));

interface LoadFigures {
  perSecond: number;
  loop: number;
  p50: number;
  p99: number;
  total: number;
}

/**
 * Benchmark 4: signed webhook deliveries (`POST /hooks/{triggerId}`, 202s per second) under
 * autocannon, beside a bare Fastify route doing the same work without Galaxy: the same
 * Standard Webhooks check (`verifyWebhook`, one secret), a JSON parse, and a JetStream publish
 * awaited for its ack before the 202. Every request is a new delivery (a fresh `webhook-id`,
 * signed in autocannon's worker thread). Galaxy also resolves the trigger (cached), counts the
 * delivery in Redis and publishes with its full headers; and its worker turns each delivery
 * into an execution meanwhile, in this same process.
 */
export async function webhookDeliveries(ctx: BenchContext, options: WebhookBenchOptions = WEBHOOK_BENCH_DEFAULTS): Promise<BenchOutcome> {
  const created = await fetch(`${ctx.galaxy.url}/api/agents/${ctx.agentId}/triggers`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: ctx.client.authorization },
    body: JSON.stringify({ type: "webhook" }),
  });
  const trigger = CreatedTrigger.parse(z.object({ data: z.unknown() }).parse(await created.json()).data);
  const secret = trigger.secret ?? "";
  // autocannon's worker thread reads it when it loads the request hook.
  process.env.BENCH_WEBHOOK_SECRET = secret;

  const galaxy = await load(`${ctx.galaxy.url}/hooks/${trigger.id}`, options);
  ctx.log(`  galaxy  ${perSecond(galaxy.perSecond, "delivery")}  p99 ${ms(galaxy.p99)}`);
  const bare = await startBareReceiver(ctx, secret);
  try {
    const baseline = await load(`${bare.url}/hooks/bare`, options);
    ctx.log(`  bare    ${perSecond(baseline.perSecond, "delivery")}  p99 ${ms(baseline.p99)}`);
    const name = "4. signed webhook deliveries";
    return {
      rows: [
        { benchmark: name, metric: `202/s (${options.connections} conns, ${options.durationS} s)`, galaxy: perSecond(galaxy.perSecond, "delivery"), baseline: perSecond(baseline.perSecond, "delivery"), ratio: ratio(galaxy.perSecond, baseline.perSecond), target: "—", met: null },
        { benchmark: name, metric: "p99 latency", galaxy: ms(galaxy.p99), baseline: ms(baseline.p99), ratio: ratio(galaxy.p99, baseline.p99), target: "—", met: null },
      ],
      notes: [
        `Webhook deliveries p50: Galaxy ${ms(galaxy.p50)}, bare ${ms(baseline.p50)}; deliveries accepted: Galaxy ${galaxy.total}, bare ${baseline.total}; the event loop was ${Math.round(galaxy.loop * 100)}% busy for Galaxy (gateway and the worker starting each delivery's execution), ${Math.round(baseline.loop * 100)}% for the bare route.`,
      ],
    };
  } finally {
    await bare.close();
  }
}

/** The baseline: raw body, `verifyWebhook`, JSON parse, one JetStream publish with its ack, 202. */
async function startBareReceiver(ctx: BenchContext, secret: string): Promise<{ url: string; close: () => Promise<void> }> {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));
  const single = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);
  app.post("/hooks/bare", async (request, reply) => {
    const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const verdict = verifyWebhook(
      [secret],
      { id: single(request.headers["webhook-id"]), timestamp: single(request.headers["webhook-timestamp"]), signature: single(request.headers["webhook-signature"]) },
      raw,
      Math.floor(Date.now() / 1000),
    );
    if (!verdict.ok) return reply.code(401).send({ error: verdict.reason });
    const body: unknown = JSON.parse(raw.toString("utf8"));
    const executionId = randomUUID();
    await publishEvent(ctx.bare.nc, `${ctx.bare.prefix}.evt.${ctx.bare.workspaceId}.webhook.received`, { webhookId: verdict.id, executionId, body }, `bare:${verdict.id}`);
    return reply.code(202).send({ data: { executionId } });
  });
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  return { url, close: () => app.close() };
}

async function load(url: string, options: WebhookBenchOptions): Promise<LoadFigures> {
  const run = async (duration: number) => {
    const result = await within(
      autocannon({ url, method: "POST", connections: options.connections, duration, workers: 1, timeout: 10, requests: [{ method: "POST", setupRequest: SETUP_REQUEST }] }),
      (duration + 30) * 1000,
      `autocannon on ${url}`,
    );
    const failures = result.non2xx + result.errors + result.timeouts;
    if (failures > 0) throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts of ${result.requests.total}`);
    return result;
  };
  await run(options.warmupS);
  const { value: result, utilization } = await withLoopUtilization(() => run(options.durationS));
  return { perSecond: result.requests.average, loop: utilization, p50: result.latency.p50, p99: result.latency.p99, total: result.requests.total };
}
