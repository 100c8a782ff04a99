import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { expect, inject, test as base } from "vitest";
import { z } from "zod";
import { CreatedTrigger, SavedAgent, SignupResult } from "@galaxy/contracts";
import { signWebhook } from "@galaxy/webhooks";
import { OtlpReceiver, type ReceivedSpan } from "./support/otlp-receiver";
import { startTracedGalaxy, type TracedGalaxy } from "./support/traced-galaxy";
import { waitFor } from "../fault/support/child";

/**
 * One webhook delivery, one trace (docs/operations.md, "Tracing"): the compiled services run as
 * separate processes exporting OTLP/HTTP JSON to a receiver here, and the delivery's trace
 * holds the gateway's intake, the worker's run and model call, audit's ingest and the
 * database calls, with no span whose parent is missing.
 */

/** The agent's completion-callback endpoint, and the `traceparent` each callback came with. */
interface Callbacks {
  url: string;
  traceparents: string[];
}

/**
 * Each set up once per file and cleaned up after its test:
 * - `callbacks`: the agent's completion-callback endpoint on loopback;
 * - `otlp`: the OTLP receiver (`receiver`) the services export their spans to, at `url`;
 * - `galaxy`: Galaxy's compiled services as separate processes exporting to it
 *   (support/traced-galaxy.ts), built and started before the test, under a limit of its own.
 */
const test = base
  .extend("callbacks", { scope: "file" }, async ({}, { onCleanup }): Promise<Callbacks> => {
    const traceparents: string[] = [];
    const server = createServer((request, response) => {
      traceparents.push(String(request.headers.traceparent ?? ""));
      request.resume();
      request.on("end", () => response.end("ok"));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/callbacks`, traceparents };
  })
  .extend("otlp", { scope: "file" }, async ({}, { onCleanup }): Promise<{ receiver: OtlpReceiver; url: string }> => {
    const receiver = new OtlpReceiver();
    const url = await receiver.listen();
    onCleanup(() => receiver.close());
    return { receiver, url };
  })
  .extend("galaxy", { scope: "file" }, async ({ otlp }, { onCleanup }): Promise<TracedGalaxy> => {
    const galaxy = await startTracedGalaxy(inject("engines"), otlp.url);
    onCleanup(() => galaxy.stop());
    return galaxy;
  });
// Building and starting the services takes minutes: under this limit, not the test's.
test.beforeAll(async ({ galaxy }) => {
  void galaxy;
}, 240_000);

async function call(galaxy: TracedGalaxy, method: string, path: string, options: { token?: string; body?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; headers: Headers; body: unknown }> {
  const response = await fetch(`${galaxy.gatewayUrl}${path}`, {
    method,
    headers: { ...(options.body !== undefined ? { "content-type": "application/json" } : {}), ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), ...options.headers },
    ...(options.body !== undefined ? { body: options.body } : {}),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null };
}

function data<S extends z.ZodType>(schema: S, response: { status: number; body: unknown }): z.infer<S> {
  const envelope = z.object({ data: z.unknown() }).safeParse(response.body);
  const parsed = schema.safeParse(envelope.success ? envelope.data.data : undefined);
  if (!parsed.success) throw new Error(`unexpected ${response.status}: ${JSON.stringify(response.body)}`);
  return parsed.data;
}

/** What the trace of the delivery must hold once every service exported its spans; undefined while it does not yet. */
function complete(spans: ReceivedSpan[]): { missingParents: ReceivedSpan[] } | undefined {
  const services = new Set(spans.map((s) => s.service));
  if (!["gateway", "execution-worker", "audit"].every((s) => services.has(s))) return undefined;
  const chat = spans.find((s) => s.name.startsWith("chat ") && s.service === "execution-worker");
  if (!chat || !spans.some((s) => s.service === "audit" && s.kind === 5)) return undefined;
  if (!spans.some((s) => s.attributes["db.system"] === "postgresql" || s.attributes["db.system.name"] === "postgresql")) return undefined;
  if (!spans.some((s) => s.name.startsWith("process execution.completed") && s.service === "audit")) return undefined;
  if (!spans.some((s) => s.name === "callback execution.completed")) return undefined;
  const ids = new Set(spans.map((s) => s.spanId));
  return { missingParents: spans.filter((s) => s.parentSpanId !== "" && !ids.has(s.parentSpanId)) };
}

test("one signed delivery is one trace across gateway, worker and audit, whole", async ({ callbacks, otlp, galaxy }) => {
  const { receiver } = otlp;
  const signup = data(SignupResult, await call(galaxy, "POST", "/api/auth/signup", { body: JSON.stringify({ email: `owner-${randomUUID()}@trace.example`, password: "correct horse battery", name: "Owner", workspaceName: "Traced" }) }));
  const token = signup.accessToken;
  const agent = data(SavedAgent, await call(galaxy, "POST", "/api/agents", { token, body: JSON.stringify({ name: "Traced", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "", notifyUrl: callbacks.url }) }));
  expect((await call(galaxy, "POST", `/api/agents/${agent.id}/activate`, { token })).status).toBe(200);
  const trigger = await waitFor("the trigger to be created", async () => {
    const response = await call(galaxy, "POST", `/api/agents/${agent.id}/triggers`, { token, body: JSON.stringify({ type: "webhook" }) });
    return response.status === 201 ? data(CreatedTrigger, response) : undefined;
  }, 20_000, 200);

  const id = `msg_${randomUUID()}`;
  const timestamp = Math.floor(Date.now() / 1000);
  const body = JSON.stringify({ message: "trace me" });
  const accepted = await call(galaxy, "POST", `/hooks/${trigger.id}`, {
    body,
    headers: { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signWebhook(trigger.secret ?? "", id, timestamp, body) },
  });
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
  const traceId = accepted.headers.get("traceparent")?.split("-")[1] ?? "";
  expect(traceId).toMatch(/^[0-9a-f]{32}$/);

  let last: ReceivedSpan[] = [];
  const result = await waitFor(
    "the delivery's trace to hold every service's spans, whole",
    async () => {
      last = receiver.trace(traceId);
      const whole = complete(last);
      return whole && whole.missingParents.length === 0 ? whole : undefined;
    },
    60_000,
    250,
  ).catch(async (error: unknown) => {
    const names = last.map((s) => `${s.service}: ${s.name} ${s.spanId}←${s.parentSpanId || "root"}`).join("\n");
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${names}\n${await galaxy.tails()}`, { cause: error });
  });
  expect(result.missingParents).toEqual([]);
  expect(receiver.refused).toEqual([]);

  const spans = receiver.trace(traceId);
  const services = new Set(spans.map((s) => s.service));
  expect([...services]).toEqual(expect.arrayContaining(["gateway", "execution-worker", "audit"]));
  const intake = spans.find((s) => s.name === "webhook intake");
  expect(intake?.service).toBe("gateway");
  expect(intake?.attributes["galaxy.trigger.id"]).toBe(trigger.id);

  const chat = spans.find((s) => s.name === "chat galaxy-dev-echo");
  expect(chat?.attributes).toMatchObject({ "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "galaxy-dev-echo" });
  expect(chat?.attributes["gen_ai.usage.input_tokens"]).toBeGreaterThan(0);
  expect(chat?.attributes["gen_ai.usage.output_tokens"]).toBeGreaterThan(0);
  expect(typeof chat?.attributes["gen_ai.response.model"]).toBe("string");

  // The bus: the gateway's publish is the parent of the worker's consumer span.
  const publish = spans.find((s) => s.service === "gateway" && s.name === "publish webhook.received");
  const consume = spans.find((s) => s.service === "execution-worker" && s.name === "process webhook.received");
  expect(publish?.attributes).toMatchObject({ "messaging.system": "nats" });
  expect(consume?.parentSpanId).toBe(publish?.spanId);
  expect(consume?.attributes).toMatchObject({ "messaging.system": "nats", "messaging.consumer.group.name": "execution-worker-webhooks" });
  // Request-reply: the registry's SERVER span is the child of the gateway's CLIENT span.
  const send = spans.find((s) => s.service === "gateway" && s.name === "send registry.triggers.resolve");
  const serve = spans.find((s) => s.service === "agent-registry" && s.name === "serve registry.triggers.resolve");
  expect([send?.kind, serve?.kind]).toEqual([3, 2]);
  expect(serve?.parentSpanId).toBe(send?.spanId);
  // Audit's ingest: a CONSUMER span per event, each the child of the span that published it.
  const ingested = spans.filter((s) => s.service === "audit" && s.kind === 5);
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  expect(ingested.length).toBeGreaterThan(0);
  for (const span of ingested) expect(byId.get(span.parentSpanId)?.name).toBe(span.name.replace("process", "publish"));
  expect(spans.some((s) => s.service === "execution-worker" && s.name === "step model_call")).toBe(true);
  // The completion callback: a span of the same trace, whose context the receiver got.
  const callback = spans.find((s) => s.name === "callback execution.completed");
  expect(callback?.attributes["galaxy.callback.status"]).toBe("delivered");
  expect(callbacks.traceparents.map((tp) => tp.split("-")[1])).toContain(traceId);
  expect(spans.some((s) => s.service === "execution-worker" && (s.attributes["db.system"] === "postgresql" || s.attributes["db.system.name"] === "postgresql"))).toBe(true);
}, 120_000);
