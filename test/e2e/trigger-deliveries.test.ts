import { describe, expect } from "vitest";
import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { Msg } from "@nats-io/transport-node";
import { Agent, CreatedTrigger, ErrorBody, Execution, Pagination, SignupResult, TRIGGER_DELIVERIES_KEPT, TriggerDelivery } from "@galaxy/contracts";
import { signWebhook } from "@galaxy/webhooks";
import { galaxyTest, startGalaxyFirst } from "./fixtures";
import { api, dataOf, eventually, type ApiResponse } from "./harness";

/**
 * `GET /api/triggers/{id}/deliveries` (docs/webhooks.md, Deliveries): every answer to a delivery
 * is listed, refusals included, newest first, bounded per trigger and seen only by its workspace.
 */

const RATE_LIMIT = 8;

const Deliveries = z.object({ data: z.array(TriggerDelivery), pagination: Pagination });

/**
 * Set up before the first test: `token`, of a workspace with an active agent, `agentId`.
 * `deliver` posts a signed delivery to a trigger; `createTrigger` makes a webhook trigger of the
 * agent; `deliveries` reads a trigger's list; `listed` waits for the list to hold `count`.
 */
const test = galaxyTest({ webhookRateLimit: { limit: RATE_LIMIT, windowS: 60 } })
  .extend("token", { scope: "file", auto: true }, async ({ galaxy }) =>
    dataOf(SignupResult, await api(galaxy, "POST", "/api/auth/signup", { body: { email: "log@example.com", password: "correct horse battery", name: "Log", workspaceName: "Deliveries" } })).accessToken)
  .extend("agentId", { scope: "file", auto: true }, async ({ galaxy, token }) => {
    const agentId = dataOf(Agent, await api(galaxy, "POST", "/api/agents", { token, body: { name: "Echo", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "Repeat." } })).id;
    await api(galaxy, "POST", `/api/agents/${agentId}/activate`, { token });
    return agentId;
  })
  .extend("deliver", { scope: "file" }, async ({ galaxy }) => async (triggerId: string, secret: string, options: { body?: string; timestamp?: number; signWith?: string } = {}): Promise<ApiResponse> => {
    const id = `msg_${randomUUID()}`;
    const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
    const body = options.body ?? JSON.stringify({ message: "hi" });
    return api(galaxy, "POST", `/hooks/${triggerId}`, {
      body,
      headers: { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signWebhook(options.signWith ?? secret, id, timestamp, body) },
    });
  })
  .extend("createTrigger", { scope: "file" }, async ({ galaxy, token, agentId }) => async (): Promise<{ id: string; secret: string }> => {
    const trigger = dataOf(CreatedTrigger, await api(galaxy, "POST", `/api/agents/${agentId}/triggers`, { token, body: { type: "webhook" } }));
    return { id: trigger.id, secret: trigger.secret ?? "" };
  })
  .extend("deliveries", { scope: "file" }, async ({ galaxy, token }) => async (triggerId: string, query = "", as = token): Promise<z.infer<typeof Deliveries>> => {
    const response = await api(galaxy, "GET", `/api/triggers/${triggerId}/deliveries${query}`, { token: as });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return Deliveries.parse(response.body);
  })
  /**
   * The trigger's list once it holds `count` deliveries, the newest numbered `newest` (recording
   * follows the answer, in the background, and a list keeps only the newest 200).
   */
  .extend("listed", { scope: "file" }, async ({ deliveries }) => async (triggerId: string, count: number, newest = count): Promise<TriggerDelivery[]> => {
    return eventually(async () => {
      const page = await deliveries(triggerId, "?limit=100");
      return page.pagination.total === count && page.data[0]?.seq === newest ? page.data : undefined;
    }, 10_000, `${count} deliveries listed, the newest numbered ${newest}`);
  });
startGalaxyFirst(test);

describe("a webhook trigger's deliveries", () => {
  test("accepted ones carry their execution and its status; refused ones their status and code", async ({ deliver, createTrigger, deliveries, listed }) => {
    const trigger = await createTrigger();
    const accepted = await deliver(trigger.id, trigger.secret);
    expect(accepted.status).toBe(202);
    const executionId = z.object({ data: z.object({ executionId: z.string() }) }).parse(accepted.body).data.executionId;
    expect((await deliver(trigger.id, trigger.secret, { signWith: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" })).status).toBe(401);
    expect((await deliver(trigger.id, trigger.secret, { timestamp: Math.floor(Date.now() / 1000) - 3600 })).status).toBe(401);
    expect((await deliver(trigger.id, trigger.secret, { body: JSON.stringify({ message: "x".repeat(1024 * 1024) }) })).status).toBe(413);
    expect((await deliver(trigger.id, trigger.secret, { body: "{not json" })).status).toBe(400);
    const list = await listed(trigger.id, 5);
    expect(list.map((d) => [d.outcome, d.httpStatus, d.code])).toEqual([
      ["refused", 400, "malformed_json"],
      ["refused", 413, "payload_too_large"],
      ["refused", 401, "webhook_timestamp_out_of_range"],
      ["refused", 401, "invalid_webhook_signature"],
      ["accepted", 202, null],
    ]);
    expect(list.map((d) => d.seq)).toEqual([5, 4, 3, 2, 1]);
    expect(list.every((d) => d.webhookId?.startsWith("msg_"))).toBe(true);
    expect(list.slice(0, 4).every((d) => d.executionId === null && d.executionStatus === null)).toBe(true);
    await eventually(async () => {
      const last = (await deliveries(trigger.id)).data.at(-1);
      return last?.executionId === executionId && last.executionStatus === "completed" ? true : undefined;
    }, 20_000, "the accepted delivery's execution to complete");
  });

  test("the status of a delivery's execution is listed however large its input and output", async ({ deliver, createTrigger, deliveries }) => {
    const trigger = await createTrigger();
    // About 1.2 MB once completed (the echo model repeats the input): more than a NATS server
    // carries in one message by default, so the list cannot read it whole to learn its status.
    const accepted = await deliver(trigger.id, trigger.secret, { body: JSON.stringify({ message: "y".repeat(600_000) }) });
    expect(accepted.status).toBe(202);
    const executionId = z.object({ data: z.object({ executionId: z.string() }) }).parse(accepted.body).data.executionId;
    await eventually(async () => {
      const only = (await deliveries(trigger.id)).data[0];
      return only?.executionId === executionId && only.executionStatus === "completed" ? true : undefined;
    }, 20_000, "the large delivery's execution listed completed");
  });

  test("a body of a full 1 MiB is accepted, runs, and reads back whole, even where NATS carries 1 MB a message", async ({ galaxy, token, deliver, createTrigger }) => {
    const trigger = await createTrigger();
    const stored: Msg[] = [];
    const watching = galaxy.observer.watch("evt.*.webhook.received", (msg) => void stored.push(msg));
    await galaxy.observer.flush();
    // The largest body a delivery may have: more than NATS's default max_payload once in its
    // event, so the event, the execution's events and its reply travel gzipped (docs/bus.md).
    const message = "z".repeat(1024 * 1024 - '{"message":""}'.length);
    const body = JSON.stringify({ message });
    expect(Buffer.byteLength(body)).toBe(1024 * 1024);
    const response = await deliver(trigger.id, trigger.secret, { body });
    expect(response.status, JSON.stringify(response.body)).toBe(202);
    const { executionId } = z.object({ data: z.object({ executionId: z.uuid() }) }).parse(response.body).data;
    // Stored gzipped where the server could not take it whole (NATS's 1 MB default), as it is where it could.
    const event = await eventually(async () => stored[0], 5_000, "the delivery's event");
    watching.unsubscribe();
    expect(event.headers?.get("Gx-Content-Encoding") || undefined).toBe(galaxy.observer.maxPayload < 1.1 * 1024 * 1024 ? "gzip" : undefined);
    const done = await eventually(async () => {
      const read = await api(galaxy, "GET", `/api/executions/${executionId}`, { token });
      // 404 until the worker has taken the delivery in; a 503 (a reply NATS cannot carry) fails at once.
      if (read.status === 404) return undefined;
      expect(read.status, JSON.stringify(read.body).slice(0, 300)).toBe(200);
      const execution = dataOf(Execution, read);
      return execution.status === "completed" || execution.status === "failed" ? execution : undefined;
    }, 20_000, "the large delivery's execution to finish");
    expect(done.status, JSON.stringify(done.error)).toBe("completed");
    expect(done.input).toEqual({ message });
    expect(done.output?.text).toBe(`echo: ${message}`);
  });

  test("a trigger id in capitals is the same trigger: one execution, one rate count, one list; deleted, it is a 404 in any case", async ({ galaxy, token, agentId, deliver, createTrigger, deliveries, listed }) => {
    const trigger = await createTrigger();
    const upper = trigger.id.toUpperCase();
    const first = await deliver(upper, trigger.secret);
    expect(first.status).toBe(202);
    expect(first.headers.get("ratelimit-remaining")).toBe(String(RATE_LIMIT - 1));
    const second = await deliver(trigger.id, trigger.secret);
    expect(second.headers.get("ratelimit-remaining")).toBe(String(RATE_LIMIT - 2));
    // Refused while its body is read, before any route code: listed under the same trigger too.
    expect((await deliver(upper, trigger.secret, { body: JSON.stringify({ message: "x".repeat(1024 * 1024) }) })).status).toBe(413);
    const list = await listed(trigger.id, 3);
    expect(list.map((d) => [d.outcome, d.httpStatus])).toEqual([["refused", 413], ["accepted", 202], ["accepted", 202]]);
    expect((await deliveries(upper)).data).toHaveLength(3);
    expect((await api(galaxy, "DELETE", `/api/agents/${agentId}/triggers/${trigger.id}`, { token })).status).toBe(204);
    expect((await deliver(upper, trigger.secret)).status).toBe(404);
  });

  test("rate-limited deliveries are listed, the list keeps the newest 200, and it pages by cursor", async ({ deliver, createTrigger, deliveries, listed }) => {
    const trigger = await createTrigger();
    const statuses: number[] = [];
    for (let i = 0; i < TRIGGER_DELIVERIES_KEPT + 5; i++) statuses.push((await deliver(trigger.id, trigger.secret)).status);
    expect(statuses.filter((s) => s === 202)).toHaveLength(RATE_LIMIT);
    const list = await listed(trigger.id, TRIGGER_DELIVERIES_KEPT, TRIGGER_DELIVERIES_KEPT + 5);
    expect(list).toHaveLength(100);
    expect(list[0]).toMatchObject({ seq: TRIGGER_DELIVERIES_KEPT + 5, outcome: "refused", httpStatus: 429, code: "webhook_rate_limited" });
    const seqs: number[] = [];
    let cursor = "";
    for (let i = 0; i < 20; i++) {
      const page = await deliveries(trigger.id, `?limit=30&cursor=${encodeURIComponent(cursor)}`);
      expect(page.pagination.total).toBeUndefined();
      seqs.push(...page.data.map((d) => d.seq));
      if (!page.pagination.nextCursor) break;
      cursor = page.pagination.nextCursor;
    }
    // The oldest five were dropped: the newest 200 remain, newest first, each once.
    expect(seqs).toEqual(Array.from({ length: TRIGGER_DELIVERIES_KEPT }, (_, i) => TRIGGER_DELIVERIES_KEPT + 5 - i));
  });

  test("a delivery while the agent is paused is listed as refused: agent_not_active", async ({ galaxy, token, agentId, deliver, createTrigger, deliveries }) => {
    const trigger = await createTrigger();
    expect((await api(galaxy, "POST", `/api/agents/${agentId}/pause`, { token })).status).toBe(200);
    await eventually(async () => ((await deliver(trigger.id, trigger.secret)).status === 409 ? true : undefined), 10_000, "deliveries to be refused while paused");
    const list = await eventually(async () => {
      const page = await deliveries(trigger.id);
      return page.data.some((d) => d.code === "agent_not_active") ? page.data : undefined;
    }, 10_000, "the refusal to be listed");
    expect(list[0]).toMatchObject({ outcome: "refused", httpStatus: 409, code: "agent_not_active", executionId: null });
    expect((await api(galaxy, "POST", `/api/agents/${agentId}/activate`, { token })).status).toBe(200);
  });

  test("another workspace sees a 404, an unknown trigger is a 404, and a bad cursor a 400", async ({ galaxy, token, deliver, createTrigger, listed }) => {
    const trigger = await createTrigger();
    await deliver(trigger.id, trigger.secret);
    await listed(trigger.id, 1);
    const other = dataOf(SignupResult, await api(galaxy, "POST", "/api/auth/signup", { body: { email: "other@example.com", password: "correct horse battery", name: "Other", workspaceName: "Other" } })).accessToken;
    for (const [path, as] of [[`/api/triggers/${trigger.id}/deliveries`, other], [`/api/triggers/${randomUUID()}/deliveries`, token]] as const) {
      const response = await api(galaxy, "GET", path, { token: as });
      expect(response.status, path).toBe(404);
      expect(ErrorBody.parse(response.body).code).toBe("trigger_not_found");
    }
    const response = await api(galaxy, "GET", `/api/triggers/${trigger.id}/deliveries?cursor=nope`, { token });
    expect(ErrorBody.parse(response.body).code).toBe("invalid_cursor");
    expect((await api(galaxy, "GET", `/api/triggers/${trigger.id}/deliveries`)).status).toBe(401);
  });
});
