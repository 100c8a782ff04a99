import { describe, expect } from "vitest";
import { execFile } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { z } from "zod";
import type { Msg } from "@nats-io/transport-node";
import { Agent, AuditEntry, CreatedTrigger, deliveryExecutionId, EVENT_CATALOG, EventEnvelope, Execution, RotatedTriggerSecret, SignupResult, Trigger, TriggerDelivery } from "@galaxy/contracts";
import { readJson } from "@galaxy/bus";
import { sql } from "@galaxy/db";
import { signWebhook } from "@galaxy/webhooks";
import { galaxyTest, startGalaxyFirst } from "./fixtures";
import { api, dataOf, eventually, type ApiResponse, type Galaxy } from "./harness";

/**
 * Webhooks in (docs/webhooks.md), through the gateway of a whole Galaxy: signed deliveries start one
 * execution each, however often they come; refused ones store nothing.
 */

const RATE_LIMIT = 60;
const run = promisify(execFile);

/** Posts a delivery to a trigger, as its sender would. */
type Deliver = (triggerId: string, d: Delivery, headers?: Record<string, string>) => Promise<ApiResponse>;

interface Delivery {
  id: string;
  timestamp: number;
  body: string;
  signature: string;
}

function delivery(secret: string, payload: unknown, options: { id?: string; timestamp?: number } = {}): Delivery {
  const id = options.id ?? `msg_${randomUUID()}`;
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const body = typeof payload === "string" ? payload : JSON.stringify(payload);
  return { id, timestamp, body, signature: signWebhook(secret, id, timestamp, body) };
}

/** A message's JSON payload, gzipped or not (docs/bus.md, "Large messages"); a message that has none fails the test. */
function payloadOf(msg: Msg | undefined): unknown {
  const json = msg ? readJson(msg.headers, msg.data) : { ok: false as const };
  return json.ok ? json.value : expect.unreachable("the message's payload is not JSON");
}

function decode(msg: Msg): { data: { triggerId: string } } {
  return z.object({ data: z.object({ triggerId: z.string() }) }).parse(payloadOf(msg));
}

/**
 * Watched from before the first test: `received`, every `webhook.received` the bus stored, as the
 * observer saw it; `queuedEvents`, the execution id of every `execution.queued` published.
 * Set up before the first test: `token`, of a workspace (`workspaceId`) with an active agent, `agentId`.
 */
const test = galaxyTest({ webhookRateLimit: { limit: RATE_LIMIT, windowS: 60 } })
  .extend("received", { scope: "file", auto: true }, async ({ galaxy }) => {
    const received: Msg[] = [];
    galaxy.observer.watch("evt.*.webhook.received", (msg) => void received.push(msg));
    return received;
  })
  .extend("queuedEvents", { scope: "file", auto: true }, async ({ galaxy }) => {
    const queuedEvents: string[] = [];
    galaxy.observer.watch("evt.*.execution.queued", (msg) => {
      const queued = z.object({ data: z.object({ execution: z.object({ id: z.string() }) }) }).safeParse(payloadOf(msg));
      if (queued.success) queuedEvents.push(queued.data.data.execution.id);
    });
    await galaxy.observer.flush();
    return queuedEvents;
  })
  .extend("hooks", { scope: "file", auto: true }, async ({ galaxy }) =>
    dataOf(SignupResult, await api(galaxy, "POST", "/api/auth/signup", { body: { email: "hooks@example.com", password: "correct horse battery", name: "Hooks", workspaceName: "Hooks" } })))
  .extend("token", { scope: "file" }, async ({ hooks }) => hooks.accessToken)
  .extend("workspaceId", { scope: "file" }, async ({ hooks }) => hooks.workspace.id)
  .extend("agentId", { scope: "file", auto: true }, async ({ galaxy, token }) => {
    const agent = dataOf(Agent, await api(galaxy, "POST", "/api/agents", { token, body: { name: "Echo", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "Repeat." } }));
    expect((await api(galaxy, "POST", `/api/agents/${agent.id}/activate`, { token })).status).toBe(200);
    return agent.id;
  })
  .extend("deliver", { scope: "file" }, async ({ galaxy }): Promise<Deliver> => async (triggerId, d, headers = {}) => {
    return api(galaxy, "POST", `/hooks/${triggerId}`, {
      body: d.body,
      headers: { "content-type": "application/json", "webhook-id": d.id, "webhook-timestamp": String(d.timestamp), "webhook-signature": d.signature, ...headers },
    });
  })
  .extend("createTrigger", { scope: "file" }, async ({ galaxy, token, agentId }) => async (body: unknown = { type: "webhook" }): Promise<{ id: string; secret: string }> => {
    const response = await api(galaxy, "POST", `/api/agents/${agentId}/triggers`, { token, body });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    const trigger = dataOf(CreatedTrigger, response);
    return { id: trigger.id, secret: trigger.secret ?? "" };
  })
  .extend("executionsOf", { scope: "file" }, async ({ superuser }) => async (triggerId: string): Promise<Array<{ id: string; status: string }>> => {
    const rows = await sql<{ id: string; status: string }>`select id, status from execution.executions where trigger->>'id' = ${triggerId} order by created_at`.execute(superuser);
    return rows.rows;
  })
  /** How many `webhook.received` publishes of this trigger the observer saw (repeats included). */
  .extend("receivedFor", { scope: "file" }, async ({ received }) => async (triggerId: string): Promise<number> => {
    return received.filter((msg) => decode(msg).data.triggerId === triggerId).length;
  })
  /** Resolves once the worker's webhook consumer has applied (acked) everything stored so far. */
  .extend("workerCaughtUp", { scope: "file" }, async ({ galaxy }) => async (): Promise<void> => {
    const ConsumerInfo = z.object({ num_pending: z.number(), num_ack_pending: z.number() });
    await eventually(async () => {
      const reply = await galaxy.observer.rawRequest(`$JS.API.CONSUMER.INFO.${galaxy.observer.stream("EVENTS")}.execution-worker-webhooks`, "", { timeoutMs: 3_000 });
      const info = ConsumerInfo.parse(JSON.parse(new TextDecoder().decode(reply.data)));
      return info.num_pending === 0 && info.num_ack_pending === 0 ? true : undefined;
    }, 15_000, "the webhook consumer to catch up");
  })
  /** The trigger the refusals are sent to (made before the first of them). */
  .extend("refusedTrigger", { scope: "file" }, async ({ createTrigger }) => createTrigger());

describe("webhook triggers", () => {
  test("creating one answers its url and a whsec_ secret once; the list never shows the secret", async ({ galaxy, superuser, token, workspaceId, agentId }) => {
    const response = await api(galaxy, "POST", `/api/agents/${agentId}/triggers`, { token, body: { type: "webhook" } });
    expect(response.status).toBe(201);
    const created = dataOf(CreatedTrigger, response);
    expect(created).toMatchObject({ type: "webhook", agentId, workspaceId, url: `/hooks/${created.id}` });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from((created.secret ?? "").slice(6), "base64").length).toBeGreaterThanOrEqual(24);
    const list = await api(galaxy, "GET", `/api/agents/${agentId}/triggers`, { token });
    expect(list.status).toBe(200);
    const triggers = z.object({ data: z.array(Trigger) }).parse(list.body).data;
    expect(triggers.map((t) => t.id)).toContain(created.id);
    expect(JSON.stringify(list.body)).not.toContain(created.secret);
    // Stored sealed: the secret is nowhere in the database in clear.
    const stored = await sql<{ secret_sealed: string }>`select secret_sealed from registry.triggers where id = ${created.id}`.execute(superuser);
    expect(stored.rows[0]?.secret_sealed).toMatch(/^v1\./);
    expect(stored.rows[0]?.secret_sealed).not.toContain((created.secret ?? "").slice(6));
  });
});

describe("idempotent creation", () => {
  test("the same Idempotency-Key answers the same trigger again, without its secret, which the gateway never stores", async ({ galaxy, superuser, token, agentId }) => {
    const key = `create-${randomUUID()}`;
    const first = await api(galaxy, "POST", `/api/agents/${agentId}/triggers`, { token, body: { type: "webhook" }, headers: { "idempotency-key": key } });
    expect(first.status).toBe(201);
    const created = dataOf(CreatedTrigger, first);
    expect(created.secret).toMatch(/^whsec_/);
    const again = await api(galaxy, "POST", `/api/agents/${agentId}/triggers`, { token, body: { type: "webhook" }, headers: { "idempotency-key": key } });
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    const replayed = dataOf(CreatedTrigger, again);
    expect(replayed.id).toBe(created.id);
    expect(replayed.secret).toBeUndefined();
    const stored = await sql<{ response: unknown }>`select response from gateway.idempotency_keys where key = ${key}`.execute(superuser);
    expect(stored.rows).toHaveLength(1);
    expect(JSON.stringify(stored.rows[0]?.response)).not.toContain("whsec_");
  });
});

describe("a signed delivery", () => {
  test("is accepted (202) with the execution id derived from trigger and webhook-id, and runs the agent on its body", async ({ galaxy, token, agentId, deliver, createTrigger }) => {
    const trigger = await createTrigger();
    const d = delivery(trigger.secret, { message: "hello from a webhook" });
    const response = await deliver(trigger.id, d);
    expect(response.status, JSON.stringify(response.body)).toBe(202);
    const { executionId } = z.object({ data: z.object({ executionId: z.uuid() }) }).parse(response.body).data;
    expect(executionId).toBe(deliveryExecutionId(trigger.id, d.id));
    expect(response.headers.get("ratelimit-limit")).toBe(String(RATE_LIMIT));

    const done = await eventually(async () => {
      const read = await api(galaxy, "GET", `/api/executions/${executionId}`, { token });
      if (read.status !== 200) return undefined;
      const execution = dataOf(Execution, read);
      return execution.status === "completed" || execution.status === "failed" ? execution : undefined;
    }, 20_000, "the webhook's execution to finish");
    expect(done).toMatchObject({ status: "completed", agentId, trigger: { type: "webhook", id: trigger.id }, input: { message: "hello from a webhook" } });
    expect(done.output?.text).toBe("echo: hello from a webhook");
  });

  test("50 concurrent copies make one execution, and so does a copy that comes after the duplicate window", async ({ galaxy, received, queuedEvents, workspaceId, deliver, createTrigger, executionsOf, workerCaughtUp }) => {
    const trigger = await createTrigger();
    const d = delivery(trigger.secret, { message: "once" });
    const responses = await Promise.all(Array.from({ length: 50 }, () => deliver(trigger.id, d)));
    expect(responses.map((r) => r.status)).toEqual(Array.from({ length: 50 }, () => 202));
    const ids = new Set(responses.map((r) => z.object({ data: z.object({ executionId: z.string() }) }).parse(r.body).data.executionId));
    expect(ids.size).toBe(1);
    const [executionId] = [...ids];
    await eventually(async () => ((await executionsOf(trigger.id)).length > 0 ? true : undefined), 10_000, "the execution");

    // JetStream's duplicate window (2 min) has passed for this copy: it is stored again, under
    // another message id, as a sender retrying a day later would be.
    const stored = received.find((msg) => decode(msg).data.triggerId === trigger.id);
    expect(stored).toBeDefined();
    const envelope = EventEnvelope.parse(payloadOf(stored));
    const claim = await galaxy.observer.serviceClaims.get(workspaceId);
    const lateId = randomUUID();
    await galaxy.observer.publishEvent({
      id: lateId,
      workspaceId,
      type: "webhook.received",
      schemaVersion: EVENT_CATALOG["webhook.received"].schemaVersion,
      payload: { ...envelope, id: lateId, occurredAt: new Date().toISOString() },
      context: { claim, traceparent: `00-${randomUUID().replaceAll("-", "")}-${"1".repeat(16)}-01`, correlationId: lateId, causationId: lateId },
    });
    await workerCaughtUp();
    const executions = await executionsOf(trigger.id);
    expect(executions.map((e) => e.id)).toEqual([executionId]);
    await galaxy.observer.flush();
    expect(queuedEvents.filter((id) => id === executionId)).toHaveLength(1);
  });

  test("a repeat a while later answers the same execution id and starts nothing new", async ({ deliver, createTrigger, executionsOf, workerCaughtUp }) => {
    const trigger = await createTrigger();
    const d = delivery(trigger.secret, { message: "again" });
    const first = await deliver(trigger.id, d);
    expect(first.status).toBe(202);
    await eventually(async () => ((await executionsOf(trigger.id)).length > 0 ? true : undefined), 10_000, "the execution");
    const again = await deliver(trigger.id, { ...d, timestamp: d.timestamp, signature: d.signature });
    expect(again.status).toBe(202);
    expect(again.body).toEqual(first.body);
    await workerCaughtUp();
    expect(await executionsOf(trigger.id)).toHaveLength(1);
  });
});

describe("the README's curl", () => {
  test("scripts/sign-webhook.ts prints a curl command that delivers (202)", async ({ galaxy, createTrigger, executionsOf }) => {
    const trigger = await createTrigger();
    const script = fileURLToPath(new URL("../../scripts/sign-webhook.ts", import.meta.url));
    const { stdout } = await run("node", ["--import", "tsx", script, "--secret", trigger.secret, "--body", `{"message":"it's curl"}`, "--url", `${galaxy.url}/hooks/${trigger.id}`]);
    expect(stdout).toMatch(/^curl /);
    const delivered = await run("sh", ["-c", `${stdout.trim()} -w '\\n%{http_code}'`]);
    const [body, status] = delivered.stdout.trim().split("\n");
    expect(status).toBe("202");
    const { executionId } = z.object({ data: z.object({ executionId: z.uuid() }) }).parse(JSON.parse(body ?? "")).data;
    await eventually(async () => ((await executionsOf(trigger.id)).some((e) => e.id === executionId) ? true : undefined), 10_000, "the curl delivery's execution");
    // A body of 1 MiB from a file named relative to where `pnpm` ran: curl reads the file, no argument holds the body.
    const dir = await mkdtemp(join(tmpdir(), "galaxy-sign-"));
    await writeFile(join(dir, "large.json"), JSON.stringify({ message: "f".repeat(1024 * 1024 - 20) }));
    const fromFile = await run("node", ["--import", "tsx", script, "--secret", trigger.secret, "--file", "large.json", "--url", `${galaxy.url}/hooks/${trigger.id}`], { env: { ...process.env, INIT_CWD: dir } });
    expect(fromFile.stdout).toContain(`--data-binary '@${join(dir, "large.json")}'`);
    expect((await run("sh", ["-c", `${fromFile.stdout.trim()} -o /dev/null -w '%{http_code}'`])).stdout).toBe("202");
    await rm(dir, { recursive: true, force: true });
  }, 30_000);
});

describe("a refused delivery stores nothing", () => {
  test.beforeAll(async ({ refusedTrigger }) => {
    void refusedTrigger;
  });

  /** How each refusal is sent, to `trigger`. */
  type Send = (on: { galaxy: Galaxy; trigger: { id: string; secret: string }; deliver: Deliver }) => Promise<ApiResponse>;
  const refusals: Array<[string, Send, number, string]> = [
    ["a timestamp 6 minutes old", ({ trigger, deliver }) => deliver(trigger.id, delivery(trigger.secret, { message: "stale" }, { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 })), 401, "webhook_timestamp_out_of_range"],
    ["a timestamp 6 minutes ahead", ({ trigger, deliver }) => deliver(trigger.id, delivery(trigger.secret, { message: "future" }, { timestamp: Math.floor(Date.now() / 1000) + 6 * 60 })), 401, "webhook_timestamp_out_of_range"],
    ["a signature under another secret", ({ trigger, deliver }) => deliver(trigger.id, delivery(`whsec_${Buffer.from(randomUUID()).toString("base64")}`, { message: "forged" })), 401, "invalid_webhook_signature"],
    [
      "a body changed after signing",
      async ({ trigger, deliver }) => {
        const d = delivery(trigger.secret, { message: "original" });
        return deliver(trigger.id, { ...d, body: JSON.stringify({ message: "tampered" }) });
      },
      401,
      "invalid_webhook_signature",
    ],
    ["no signature at all", ({ galaxy, trigger }) => api(galaxy, "POST", `/hooks/${trigger.id}`, { body: { message: "unsigned" } }), 401, "missing_webhook_signature"],
    ["a body of 1 MiB + 1 byte", ({ trigger, deliver }) => deliver(trigger.id, delivery(trigger.secret, `"${"x".repeat(1024 * 1024 - 1)}"`)), 413, "payload_too_large"],
    ["a body that is not JSON", ({ trigger, deliver }) => deliver(trigger.id, delivery(trigger.secret, "not json at all")), 400, "malformed_json"],
    [
      "a content type that is not JSON",
      ({ trigger, deliver }) => {
        const d = delivery(trigger.secret, "message=hello");
        return deliver(trigger.id, d, { "content-type": "application/x-www-form-urlencoded" });
      },
      415,
      "unsupported_media_type",
    ],
    // What Postgres cannot store is refused before the 202, as the API refuses it (docs/errors.md).
    ["a NUL character in a string", ({ trigger, deliver }) => deliver(trigger.id, delivery(trigger.secret, '{"message":"a\\u0000b"}')), 400, "invalid_value"],
    ["a lone surrogate in a key", ({ trigger, deliver }) => deliver(trigger.id, delivery(trigger.secret, '{"\\ud800":"x"}')), 400, "invalid_value"],
    ["JSON nested 5,000 deep", ({ trigger, deliver }) => deliver(trigger.id, delivery(trigger.secret, `{"a":${"[".repeat(5000)}${"]".repeat(5000)}}`)), 400, "invalid_value"],
    ["a number JSON cannot hold (1e400)", ({ trigger, deliver }) => deliver(trigger.id, delivery(trigger.secret, '{"amount":1e400}')), 400, "invalid_value"],
  ];

  test.for(refusals)("%s: its status, and no event, no execution", async ([_name, send, status, code], { galaxy, refusedTrigger: trigger, deliver, receivedFor, executionsOf }) => {
    const response = await send({ galaxy, trigger, deliver });
    expect(response.status, JSON.stringify(response.body)).toBe(status);
    expect(response.body).toMatchObject({ code });
    await galaxy.observer.flush();
    expect(await receivedFor(trigger.id)).toBe(0);
    expect(await executionsOf(trigger.id)).toHaveLength(0);
  });

  test("a body that fails the agent's inputSchema is a 400 input_invalid naming each field, checked against the agent's version of the moment", async ({ galaxy, token, deliver, receivedFor }) => {
    const inputSchema = { type: "object", properties: { ticket: { type: "string" } }, required: ["ticket"] };
    const agent = dataOf(Agent, await api(galaxy, "POST", "/api/agents", { token, body: { name: "Triage", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "Triage.", inputSchema } }));
    expect((await api(galaxy, "POST", `/api/agents/${agent.id}/activate`, { token })).status).toBe(200);
    const trigger = dataOf(CreatedTrigger, await api(galaxy, "POST", `/api/agents/${agent.id}/triggers`, { token, body: { type: "webhook" } }));
    const secret = trigger.secret ?? "";

    const refused = await deliver(trigger.id, delivery(secret, { subject: "printer on fire" }));
    expect({ status: refused.status, body: refused.body }).toMatchObject({ status: 400, body: { code: "input_invalid", details: { "body.ticket": "must have required property 'ticket'" } } });
    await galaxy.observer.flush();
    expect(await receivedFor(trigger.id)).toBe(0);
    // The trigger's delivery log says why, as for any refusal.
    await eventually(async () => {
      const log = z.object({ data: z.array(TriggerDelivery) }).parse((await api(galaxy, "GET", `/api/triggers/${trigger.id}/deliveries`, { token })).body);
      return log.data.some((entry) => entry.outcome === "refused" && entry.code === "input_invalid" && entry.httpStatus === 400) ? true : undefined;
    }, 5_000, "the refusal in the delivery log");
    expect((await deliver(trigger.id, delivery(secret, { ticket: "T-1" }))).status).toBe(202);

    // A new version of the agent brings its own schema; the gateway hears agent.updated and checks against it.
    expect((await api(galaxy, "PATCH", `/api/agents/${agent.id}`, { token, body: { inputSchema: { ...inputSchema, required: ["ticket", "priority"] } } })).status).toBe(200);
    const now = await eventually(async () => {
      const answer = await deliver(trigger.id, delivery(secret, { ticket: "T-2" }));
      return answer.status === 400 ? answer : undefined;
    }, 5_000, "the new version's schema to be checked");
    expect(now.body).toMatchObject({ code: "input_invalid", details: { "body.priority": "must have required property 'priority'" } });
  });

  test("an unknown trigger is 404; a deleted one too, at once", async ({ galaxy, token, agentId, refusedTrigger: trigger, deliver, createTrigger }) => {
    const unknown = await deliver(randomUUID(), delivery(trigger.secret, { message: "nobody" }));
    expect(unknown.status).toBe(404);
    const doomed = await createTrigger();
    expect((await deliver(doomed.id, delivery(doomed.secret, { message: "before" }))).status).toBe(202);
    expect((await api(galaxy, "DELETE", `/api/agents/${agentId}/triggers/${doomed.id}`, { token })).status).toBe(204);
    // The gateway hears trigger.deleted on core NATS and drops what it cached.
    await eventually(async () => ((await deliver(doomed.id, delivery(doomed.secret, { message: "after" }))).status === 404 ? true : undefined), 5_000, "the deleted trigger to be refused");
  });
});

describe("secret rotation", () => {
  test("after a rotation both the new and the previous secret verify; the answer shows the new one once", async ({ galaxy, token, agentId, deliver, createTrigger }) => {
    const trigger = await createTrigger();
    const rotated = await api(galaxy, "POST", `/api/agents/${agentId}/triggers/${trigger.id}/rotate-secret`, { token });
    expect(rotated.status).toBe(200);
    const fresh = dataOf(RotatedTriggerSecret, rotated);
    expect(fresh.secret).not.toBe(trigger.secret);
    expect(Date.parse(fresh.previousSecretExpiresAt) - Date.now()).toBeGreaterThan(23 * 3600 * 1000);
    await eventually(async () => ((await deliver(trigger.id, delivery(fresh.secret, { message: "new" }))).status === 202 ? true : undefined), 5_000, "the new secret to verify");
    expect((await deliver(trigger.id, delivery(trigger.secret, { message: "old" }))).status).toBe(202);
    // During a rotation a sender may sign with both, space-separated.
    const both = delivery(fresh.secret, { message: "both" });
    const old = signWebhook(trigger.secret, both.id, both.timestamp, both.body);
    expect((await deliver(trigger.id, { ...both, signature: `${old} ${both.signature}` })).status).toBe(202);
  });

  test("a schedule has no secret to rotate: 409", async ({ galaxy, token, agentId, createTrigger }) => {
    const schedule = await createTrigger({ type: "schedule", cron: "0 0 1 1 *", timezone: "Europe/Paris" });
    const response = await api(galaxy, "POST", `/api/agents/${agentId}/triggers/${schedule.id}/rotate-secret`, { token });
    expect(response.status).toBe(409);
    expect(response.body).toMatchObject({ code: "trigger_has_no_secret" });
  });
});

describe("the agent and the rate", () => {
  test("past the trigger's limit: 429 with Retry-After and RateLimit-* headers, and nothing stored", async ({ galaxy, deliver, createTrigger, receivedFor }) => {
    const trigger = await createTrigger();
    for (let i = 0; i < RATE_LIMIT; i++) expect((await deliver(trigger.id, delivery(trigger.secret, { message: `n${i}` }))).status).toBe(202);
    // Every 202 came after its event was stored; the watcher has them all once it has caught up.
    await galaxy.observer.flush();
    const before = await receivedFor(trigger.id);
    expect(before).toBe(RATE_LIMIT);
    const over = await deliver(trigger.id, delivery(trigger.secret, { message: "one too many" }));
    expect(over.status).toBe(429);
    expect(over.body).toMatchObject({ code: "webhook_rate_limited" });
    expect(Number(over.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(over.headers.get("ratelimit-limit")).toBe(String(RATE_LIMIT));
    expect(over.headers.get("ratelimit-remaining")).toBe("0");
    expect(Number(over.headers.get("ratelimit-reset"))).toBeGreaterThan(0);
    await galaxy.observer.flush();
    expect(await receivedFor(trigger.id)).toBe(before);
  });

  test("a paused agent's trigger answers 409 at once, and accepts again after activation", async ({ galaxy, token, deliver }) => {
    const agent = dataOf(Agent, await api(galaxy, "POST", "/api/agents", { token, body: { name: "Pausable", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "Repeat." } }));
    expect((await api(galaxy, "POST", `/api/agents/${agent.id}/activate`, { token })).status).toBe(200);
    const created = dataOf(CreatedTrigger, await api(galaxy, "POST", `/api/agents/${agent.id}/triggers`, { token, body: { type: "webhook" } }));
    const secret = created.secret ?? "";
    expect((await deliver(created.id, delivery(secret, { message: "active" }))).status).toBe(202);
    expect((await api(galaxy, "POST", `/api/agents/${agent.id}/pause`, { token })).status).toBe(200);
    await eventually(async () => ((await deliver(created.id, delivery(secret, { message: "paused" }))).status === 409 ? true : undefined), 5_000, "the paused agent's 409");
    expect((await deliver(created.id, delivery(secret, { message: "still paused" }))).body).toMatchObject({ code: "agent_not_active" });
    expect((await api(galaxy, "POST", `/api/agents/${agent.id}/activate`, { token })).status).toBe(200);
    await eventually(async () => ((await deliver(created.id, delivery(secret, { message: "again" }))).status === 202 ? true : undefined), 5_000, "deliveries accepted again");
  });
});

describe("audit", () => {
  test("a delivery's audit entry records the digest and size of its body, not the body", async ({ galaxy, token, deliver, createTrigger }) => {
    const trigger = await createTrigger();
    const marker = `secret-payload-${randomUUID()}`;
    const d = delivery(trigger.secret, { message: marker });
    expect((await deliver(trigger.id, d)).status).toBe(202);
    const entry = await eventually(async () => {
      const response = await api(galaxy, "GET", `/api/audit-logs?action=webhook.received&resourceId=${trigger.id}`, { token });
      if (response.status !== 200) return undefined;
      return z.object({ data: z.array(AuditEntry) }).parse(response.body).data[0];
    }, 15_000, "the delivery's audit entry");
    expect(entry).toMatchObject({ action: "webhook.received", resourceType: "trigger", resourceId: trigger.id, actor: { type: "service", id: "gateway" } });
    expect(entry.changes?.after).toMatchObject({ webhookId: d.id, bodySha256: createHash("sha256").update(d.body).digest("hex"), bodySize: Buffer.byteLength(d.body) });
    expect(JSON.stringify(entry)).not.toContain(marker);
  });
});

startGalaxyFirst(test);