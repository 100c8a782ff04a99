import { randomUUID } from "node:crypto";
import { connect } from "@nats-io/transport-node";
import { Worker } from "bullmq";
import Fastify from "fastify";
import { z } from "zod";
import { createDb, sql } from "@galaxy/db";
import { verifyWebhook } from "@galaxy/webhooks";
import { callModel, insertExecution, publishEvent, serveBareWorker } from "../bare";

// The bare baselines as a process of their own, beside Galaxy's processes (bench/run.ts starts
// it): what each benchmark holds Galaxy against, doing the same work and nothing else.
//   POST /hooks/bare         Standard Webhooks check, JSON parse, one JetStream publish awaited, 202
//   GET /executions/:id      one select by primary key
//   <prefix>.svc.run         the bare responder: model call, one insert, one JetStream publish
//   BullMQ queue `executions` a bare worker: model call and one insert per job, then a core NATS
//                            message `<prefix>.bull.evt.<ws>.execution.completed` for the watcher

const Env = z.object({
  BENCH_BASE_PORT: z.coerce.number().int().min(1).max(65535),
  BENCH_BASE_DB: z.url(),
  BENCH_BASE_POOL: z.coerce.number().int().min(1).max(100),
  BENCH_BASE_PREFIX: z.string().regex(/^[a-z0-9]+$/),
  BENCH_BASE_WORKSPACE: z.uuid(),
  BENCH_BASE_MODEL_URL: z.url(),
  BENCH_BASE_SECRET: z.string().startsWith("whsec_"),
  BENCH_BASE_BULL_CONCURRENCY: z.coerce.number().int().min(1).max(1024),
  BENCH_BASE_BULL_PREFIX: z.string().min(1),
  NATS_URL: z.string().min(1),
  REDIS_URL: z.string().min(1),
});
const env = Env.parse(process.env);

const db = createDb<unknown>({ connectionString: env.BENCH_BASE_DB, max: env.BENCH_BASE_POOL, applicationName: "galaxy-bench-baseline" });
const nc = await connect({ servers: env.NATS_URL, name: "galaxy-bench-baseline" });
serveBareWorker(nc, env.BENCH_BASE_PREFIX, { db, modelUrl: env.BENCH_BASE_MODEL_URL });

const encoder = new TextEncoder();
const worker = new Worker<{ id: string; message: string }>(
  "executions",
  async (job) => {
    const text = await callModel(env.BENCH_BASE_MODEL_URL, job.data.message);
    await insertExecution(db, { id: job.data.id, workspaceId: env.BENCH_BASE_WORKSPACE, input: { message: job.data.message }, output: { text } });
    const event = { id: randomUUID(), type: "execution.completed", workspaceId: env.BENCH_BASE_WORKSPACE, data: { execution: { id: job.data.id, status: "completed" } } };
    nc.publish(`${env.BENCH_BASE_PREFIX}.bull.evt.${env.BENCH_BASE_WORKSPACE}.execution.completed`, encoder.encode(JSON.stringify(event)));
    return text;
  },
  { connection: { url: env.REDIS_URL, maxRetriesPerRequest: null }, prefix: env.BENCH_BASE_BULL_PREFIX, concurrency: env.BENCH_BASE_BULL_CONCURRENCY, removeOnComplete: { count: 0 }, removeOnFail: { count: 100 } },
);
await worker.waitUntilReady();

const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
app.removeAllContentTypeParsers();
app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));
const single = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);
app.post("/hooks/bare", async (request, reply) => {
  const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
  const headers = { id: single(request.headers["webhook-id"]), timestamp: single(request.headers["webhook-timestamp"]), signature: single(request.headers["webhook-signature"]) };
  const verdict = verifyWebhook([env.BENCH_BASE_SECRET], headers, raw, Math.floor(Date.now() / 1000));
  if (!verdict.ok) return reply.code(401).send({ error: verdict.reason });
  const body: unknown = JSON.parse(raw.toString("utf8"));
  const executionId = randomUUID();
  await publishEvent(nc, `${env.BENCH_BASE_PREFIX}.evt.${env.BENCH_BASE_WORKSPACE}.webhook.received`, { webhookId: verdict.id, executionId, body }, `bare:${verdict.id}`);
  return reply.code(202).send({ data: { executionId } });
});
app.get<{ Params: { id: string } }>("/executions/:id", async (request, reply) => {
  const result = await sql<Record<string, unknown>>`select * from baseline.executions where id = ${request.params.id}`.execute(db);
  const row = result.rows[0];
  if (!row) return reply.code(404).send({ error: "not found" });
  return { data: row };
});
app.get("/health", async () => ({ ok: true }));
await app.listen({ port: env.BENCH_BASE_PORT, host: "127.0.0.1" });

const stop = async () => {
  await app.close();
  await worker.close();
  await nc.drain();
  await db.destroy();
  process.exit(0);
};
process.once("SIGTERM", () => void stop());
