import { expect } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { Agent, CreatedTrigger, deliveryEventId, deliveryExecutionId, Execution, SignupResult } from "@galaxy/contracts";
import { sql } from "@galaxy/db";
import { freePort } from "@galaxy/testkit";
import { signWebhook } from "@galaxy/webhooks";
import { galaxyTestAfter, startGalaxyFirst } from "./fixtures";
import { api, dataOf, eventually, type ApiResponse } from "./harness";

/**
 * docs/webhooks.md, "the bus unreachable: 503, nothing stored; the sender's retry is safe": Galaxy
 * runs on a NATS server of this test's own, which the test stops and starts again.
 */

const NATS_SERVER = "/usr/sbin/nats-server";
/** A nats-server of the file's own, on `url`: `stop()` ends it, `start()` starts it again on the same port and store. */
interface OwnNats {
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

async function portAnswers(p: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: "127.0.0.1", port: p });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/**
 * A Galaxy on `nats`, a nats-server of the file's own started before it, stopped and its store
 * removed after it.
 */
const test = galaxyTestAfter(
  async ({ onCleanup }): Promise<OwnNats> => {
    const port = await freePort();
    const storeDir = await mkdtemp(join(tmpdir(), "galaxy-webhooks-nats-"));
    let child: ChildProcess | undefined;
    const nats: OwnNats = {
      url: `nats://127.0.0.1:${port}`,
      async start() {
        const started = spawn(NATS_SERVER, ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", storeDir, "-m", "0"], { stdio: "ignore" });
        child = started;
        await eventually(async () => {
          if (started.exitCode !== null) throw new Error(`nats-server exited with ${started.exitCode}`);
          return (await portAnswers(port)) ? true : undefined;
        }, 10_000, "nats-server to listen");
      },
      async stop() {
        const running = child;
        if (!running || running.exitCode !== null) return;
        const exited = new Promise((resolve) => running.once("exit", resolve));
        running.kill("SIGTERM");
        await exited;
      },
    };
    onCleanup(async () => {
      await nats.stop();
      await rm(storeDir, { recursive: true, force: true });
    });
    await nats.start();
    return nats;
  },
  (nats) => ({ engines: { natsUrl: nats.url } }),
).extend("nats", { scope: "file" }, async ({ prelude }) => prelude);
startGalaxyFirst(test);

test("with NATS stopped a delivery is 503 and stored nowhere; the same delivery retried once NATS is back makes exactly one execution", async ({ galaxy, nats, superuser }) => {
  const signup = dataOf(SignupResult, await api(galaxy, "POST", "/api/auth/signup", { body: { email: "outage@example.com", password: "correct horse battery", name: "Outage", workspaceName: "Outage" } }));
  const token = signup.accessToken;
  const agent = dataOf(Agent, await api(galaxy, "POST", "/api/agents", { token, body: { name: "Echo", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "Repeat." } }));
  expect((await api(galaxy, "POST", `/api/agents/${agent.id}/activate`, { token })).status).toBe(200);
  const trigger = dataOf(CreatedTrigger, await api(galaxy, "POST", `/api/agents/${agent.id}/triggers`, { token, body: { type: "webhook" } }));
  const secret = trigger.secret ?? "";
  const send = (id: string, body: string): Promise<ApiResponse> => {
    const timestamp = Math.floor(Date.now() / 1000);
    return api(galaxy, "POST", `/hooks/${trigger.id}`, {
      body,
      headers: { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signWebhook(secret, id, timestamp, body) },
    });
  };

  // A first delivery while all is well (the gateway now holds the trigger and its claim).
  expect((await send(`msg_${randomUUID()}`, JSON.stringify({ message: "before" }))).status).toBe(202);

  await nats.stop();
  await eventually(async () => (galaxy.observer.isConnected() ? undefined : true), 10_000, "the clients to see NATS gone");
  const webhookId = `msg_${randomUUID()}`;
  const body = JSON.stringify({ message: "during the outage" });
  const refused = await send(webhookId, body);
  expect(refused.status, JSON.stringify(refused.body)).toBe(503);
  expect(refused.body).toMatchObject({ error: "Service Unavailable" });

  await nats.start();
  await eventually(async () => (galaxy.observer.isConnected() ? true : undefined), 20_000, "the clients to reconnect");
  // Nothing of the refused delivery reached the stream.
  const stream = galaxy.observer.stream("EVENTS");
  const subject = galaxy.observer.subject(`evt.${signup.workspace.id}.webhook.received`);
  const last = await galaxy.observer.rawRequest(`$JS.API.STREAM.MSG.GET.${stream}`, JSON.stringify({ last_by_subj: subject }), { timeoutMs: 5_000 });
  const lastMessage = z.object({ message: z.object({ hdrs: z.string() }) }).parse(JSON.parse(new TextDecoder().decode(last.data)));
  expect(Buffer.from(lastMessage.message.hdrs, "base64").toString()).not.toContain(deliveryEventId(trigger.id, webhookId));
  const executionId = deliveryExecutionId(trigger.id, webhookId);
  expect((await sql<{ id: string }>`select id from execution.executions where id = ${executionId}`.execute(superuser)).rows).toHaveLength(0);

  // The sender retries the same delivery until the gateway is connected again.
  const accepted = await eventually(async () => {
    const response = await send(webhookId, body);
    if (response.status === 503) return undefined;
    return response;
  }, 20_000, "the retried delivery to be accepted");
  expect(accepted.status).toBe(202);
  expect(accepted.body).toEqual({ data: { executionId } });
  // Its execution exists, with the id the sender was answered, and runs to the end.
  const completed = await eventually(async () => {
    const read = await api(galaxy, "GET", `/api/executions/${executionId}`, { token });
    if (read.status !== 200) return undefined;
    const execution = dataOf(Execution, read);
    return execution.status === "completed" ? execution : undefined;
  }, 30_000, "the retried delivery's execution to complete");
  expect(completed).toMatchObject({
    id: executionId,
    trigger: { type: "webhook", id: trigger.id },
    input: { message: "during the outage" },
    output: { text: "echo: during the outage" },
  });
  // A second retry changes nothing.
  expect((await send(webhookId, body)).body).toEqual({ data: { executionId } });
  const rows = await sql<{ id: string }>`select id from execution.executions where trigger->>'id' = ${trigger.id}`.execute(superuser);
  expect(rows.rows).toHaveLength(2);
}, 120_000);
