import { randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { expect, inject } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { ForbiddenError, NotFoundError, parseEvent } from "@galaxy/contracts";
import { inWorkspace, sql } from "@galaxy/db";
import { connectTestBus } from "@galaxy/testkit";
import { verifyWebhook } from "@galaxy/webhooks";
import { workerTestAfter, startHarnessFirst } from "../../test/support/fixtures";
import { eventually } from "../../test/support/harness";
import { scheduleCallback } from "./callbacks.consumer";
import { NotifyUrls } from "./notify-urls";

/** The agent's notify URL on loopback: what it received, and what it answers. */
interface Receiver {
  url: string;
  received: Array<{ headers: IncomingHttpHeaders; body: Buffer }>;
}

/** What the receiver answers, request by request; 200 after the list. */
const answers = [500];

/**
 * Each set up once per file:
 * - `receiver`: the callbacks' receiver, started before the harness and closed after it;
 * - `h`: the file's harness (test/support/fixtures.ts), its worker allowed to call loopback, a
 *   failed callback retried an hour later: only a restart plus the clock moving on (below) brings it;
 * - `notifySecrets`: the callback secrets a stand-in registry holds and serves to the worker
 *   (`registry.agents.notify_secret`), by `<agentId>@<version>`.
 */
const test = workerTestAfter(
  async ({ onCleanup }): Promise<Receiver> => {
    const receiver: Receiver = { url: "", received: [] };
    const server: Server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        receiver.received.push({ headers: request.headers, body: Buffer.concat(chunks) });
        response.statusCode = answers[receiver.received.length - 1] ?? 200;
        response.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    onCleanup(() => new Promise((resolve) => server.close(resolve)));
    receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/done`;
    return receiver;
  },
  () => inject("engines"),
  { outboundHostAllowlist: "127.0.0.1", callbacks: { backoffBaseMs: 3_600_000, pollIntervalMs: 50 } },
)
  .extend("receiver", { scope: "file" }, async ({ prelude }) => prelude)
  .extend("notifySecrets", { scope: "file" }, async ({ h }, { onCleanup }) => {
    const secrets = new Map<string, { notifyUrl: string; notifySecret: string }>();
    const registryBus = await connectTestBus(h.env, "agent-registry");
    onCleanup(() => registryBus.close());
    registryBus.serve("registry.agents.notify_secret", async (request, ctx) => {
      if (ctx.claim?.act !== "service" || ctx.claim.sub !== "execution-worker") throw new ForbiddenError();
      const found = secrets.get(`${request.agentId}@${request.version}`);
      if (!found) throw new NotFoundError("notify_secret");
      return found;
    });
    await registryBus.flush();
    return secrets;
  });
startHarnessFirst(test);

const one = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

test("a retry due while no worker runs is made by the next one to start; redelivered events schedule nothing more", async ({ h, receiver, notifySecrets }) => {
  const ws = uuidv7();
  const agent = await h.activeAgent(ws, { notifyUrl: receiver.url });
  const secret = `whsec_${randomBytes(32).toString("base64")}`;
  notifySecrets.set(`${agent.id}@1`, { notifyUrl: receiver.url, notifySecret: secret });

  const execution = await h.startExecution(ws, agent.id, { message: "tell me when done" });
  const completed = await h.events.waitFor(execution.id, "execution.completed");
  const rows = () =>
    inWorkspace(h.db, ws, (tx) => tx.selectFrom("callback_deliveries").select(["attempt", "status", "response_status", "next_attempt_at"]).where("execution_id", "=", execution.id).orderBy("attempt").execute());
  // The first attempt failed; the second waits in Postgres, an hour away.
  await eventually(async () => ((await rows()).length === 2 ? true : null), 10_000, "the first attempt and the scheduled retry");
  expect((await rows()).map((r) => [r.attempt, r.status, r.response_status])).toEqual([[1, "failed", 500], [2, "pending", null]]);

  // The worker stops; the hour passes (the retry is made due by hand); another instance starts.
  await h.stopWorker();
  await inWorkspace(h.db, ws, (tx) => tx.updateTable("callback_deliveries").set({ next_attempt_at: sql<Date>`now()` }).where("execution_id", "=", execution.id).where("status", "=", "pending").execute());
  await h.spawnWorker({ outboundHostAllowlist: "127.0.0.1", callbacks: { backoffBaseMs: 3_600_000, pollIntervalMs: 50 } });
  await eventually(async () => ((await rows()).some((r) => r.status === "delivered") ? true : null), 10_000, "the retry delivered by the new instance");
  expect((await rows()).map((r) => [r.attempt, r.status, r.response_status])).toEqual([[1, "failed", 500], [2, "delivered", 200]]);

  expect(receiver.received).toHaveLength(2);
  for (const request of receiver.received) {
    const verdict = verifyWebhook([secret], { id: one(request.headers["webhook-id"]), timestamp: one(request.headers["webhook-timestamp"]), signature: one(request.headers["webhook-signature"]) }, request.body, Math.floor(Date.now() / 1000));
    expect(verdict).toEqual({ ok: true, id: completed.id, timestampS: expect.any(Number) });
    const event = parseEvent(JSON.parse(request.body.toString("utf8")));
    expect(event.ok && event.event.type === "execution.completed" && event.event.data.execution.id).toBe(execution.id);
  }

  // The same event again (a redelivery, a replay): the delivery exists, nothing is scheduled.
  expect(await scheduleCallback(h.db, new NotifyUrls(h.db), completed, { retryWindowMs: 86_400_000 })).toBe(false);
  expect(await rows()).toHaveLength(2);
});
