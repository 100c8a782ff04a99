import { randomUUID } from "node:crypto";
import { headers as natsHeaders, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { z } from "zod";
import { sql, type Kysely } from "@galaxy/db";
import { BENCH_AGENT } from "./galaxy-client";

// The bare engines doing the work of one execution and nothing else: no claims, no RLS, no
// outbox, no steps, no validation beyond reading the reply. What Galaxy is held against.

const decoder = new TextDecoder();

const ChatReply = z.object({ choices: z.array(z.object({ message: z.object({ content: z.string().nullable() }) })).min(1) });

/** One chat completion from the dev model with plain `fetch`: the request the worker's OpenAI client sends. */
export async function callModel(modelUrl: string, message: string): Promise<string> {
  const response = await fetch(`${modelUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer galaxy-dev" },
    body: JSON.stringify({
      model: BENCH_AGENT.model,
      messages: [
        { role: "system", content: BENCH_AGENT.systemPrompt },
        { role: "user", content: message },
      ],
    }),
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.ok) throw new Error(`the dev model answered ${response.status}: ${await response.text()}`);
  return ChatReply.parse(await response.json()).choices[0]?.message.content ?? "";
}

/** The baselines' table, in the bench database (not Galaxy's clone), written as the superuser. */
export async function createBaselineTable(db: Kysely<unknown>): Promise<void> {
  await sql`create schema if not exists baseline`.execute(db);
  await sql`create table if not exists baseline.executions (
      id uuid primary key,
      workspace_id uuid not null,
      status text not null,
      input jsonb,
      output jsonb,
      created_at timestamptz not null default now()
    )`.execute(db);
  await sql`create table if not exists baseline.calibration (id bigint generated always as identity primary key, at timestamptz not null default now())`.execute(db);
}

/** One autocommit insert: the row of a finished execution. */
export async function insertExecution(db: Kysely<unknown>, row: { id: string; workspaceId: string; input: unknown; output: unknown }): Promise<void> {
  await sql`insert into baseline.executions (id, workspace_id, status, input, output)
            values (${row.id}, ${row.workspaceId}, 'completed', ${JSON.stringify(row.input)}::jsonb, ${JSON.stringify(row.output)}::jsonb)`.execute(db);
}

const JsApiReply = z.object({ error: z.object({ code: z.number(), description: z.string() }).optional() });

/**
 * Creates `<PREFIX>_EVENTS` on `<prefix>.evt.>` through the JetStream API (file storage, as
 * Galaxy's `EVENTS`); `dropStreams(url, prefix)` deletes it.
 */
export async function createStream(nc: NatsConnection, prefix: string): Promise<string> {
  const name = `${prefix.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_EVENTS`;
  const config = { name, subjects: [`${prefix}.evt.>`], retention: "limits", storage: "file", num_replicas: 1, max_age: 0, duplicate_window: 120_000_000_000 };
  const reply = JsApiReply.parse(JSON.parse(decoder.decode((await nc.request(`$JS.API.STREAM.CREATE.${name}`, JSON.stringify(config), { timeout: 5_000 })).data)));
  if (reply.error) throw new Error(`could not create stream ${name}: ${reply.error.description}`);
  return name;
}

/** A JetStream publish (what `js.publish` does: a request to the subject, answered with the stream's ack). */
export async function publishEvent(nc: NatsConnection, subject: string, payload: unknown, msgId: string): Promise<void> {
  const h = natsHeaders();
  h.set("Nats-Msg-Id", msgId);
  const ack = await nc.request(subject, JSON.stringify(payload), { headers: h, timeout: 5_000 });
  const reply = JsApiReply.parse(JSON.parse(decoder.decode(ack.data)));
  if (reply.error) throw new Error(`JetStream refused ${subject}: ${reply.error.description}`);
}

export const RunRequest = z.object({ id: z.string(), workspaceId: z.string(), message: z.string() });
export type RunRequest = z.infer<typeof RunRequest>;

const RunReply = z.object({ ok: z.boolean(), error: z.string().optional() });

/** The event a bare execution publishes: the fields of Galaxy's `execution.completed` the watcher reads. */
function completedEvent(request: RunRequest, text: string) {
  return {
    id: randomUUID(),
    type: "execution.completed",
    workspaceId: request.workspaceId,
    data: { execution: { id: request.id, status: "completed", output: { text } } },
  };
}

/**
 * The bare floor of the performance budget (docs/benchmarks.md): a core NATS responder on `<prefix>.svc.run` that does
 * one model call, one insert and one JetStream publish, then replies.
 */
export function serveBareWorker(nc: NatsConnection, prefix: string, deps: { db: Kysely<unknown>; modelUrl: string }): Subscription {
  const handle = async (data: Uint8Array): Promise<string> => {
    try {
      const request = RunRequest.parse(JSON.parse(decoder.decode(data)));
      const text = await callModel(deps.modelUrl, request.message);
      const output = { text };
      await insertExecution(deps.db, { id: request.id, workspaceId: request.workspaceId, input: { message: request.message }, output });
      const event = completedEvent(request, text);
      await publishEvent(nc, `${prefix}.evt.${request.workspaceId}.execution.completed`, event, event.id);
      return JSON.stringify({ ok: true });
    } catch (error) {
      return JSON.stringify({ ok: false, error: error instanceof Error ? error.message : String(error) });
    }
  };
  return nc.subscribe(`${prefix}.svc.run`, {
    queue: "bare-worker",
    callback: (error, msg) => {
      if (error) return;
      void handle(msg.data).then((reply) => msg.respond(reply));
    },
  });
}

/** Asks the bare worker to run one execution; resolves when it replied. */
export async function requestBareRun(nc: NatsConnection, prefix: string, request: RunRequest): Promise<void> {
  const reply = RunReply.parse(JSON.parse(decoder.decode((await nc.request(`${prefix}.svc.run`, JSON.stringify(request), { timeout: 10_000 })).data)));
  if (!reply.ok) throw new Error(`the bare worker failed: ${reply.error ?? "no reason"}`);
}
