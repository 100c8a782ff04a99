import { createHash, randomUUID } from "node:crypto";
import { incomingTraceparent } from "@galaxy/testkit";
import { expect } from "vitest";
import { deliveryExecutionId, EVENT_CATALOG, Execution, type EventEnvelope, type WebhookReceived } from "@galaxy/contracts";
import { inWorkspace, sql, type RawBuilder } from "@galaxy/db";
import { setTier } from "@galaxy/execution-worker";
import { workspaceWithAgent } from "./backlog";
import { galaxyTest, startGalaxyFirst } from "./fixtures";
import { api, dataOf, eventually } from "./harness";

/**
 * Webhook intake without a noisy neighbour (docs/webhooks.md, "Intake"): a backlog of
 * deliveries from one workspace is taken in by batches, so another workspace's single delivery
 * published behind it is queued soon after, and the fair claim runs it long before most of the
 * backlog. Taken in one delivery at a time, the backlog's executions would run for as long as
 * it took to take them all in before the other delivery was even read.
 */

const BACKLOG = 2_000;

/**
 * `publishDelivery` publishes a `webhook.received` as the gateway does once it verified a
 * delivery, and answers its execution id; `scalar` is the single number a count query answers,
 * in the workspace.
 */
const test = galaxyTest({ worker: { concurrency: 8, shutdownGraceMs: 200 } })
  /** Publishes a `webhook.received` as the gateway does once it verified a delivery;
startGalaxyFirst(test); answers its execution id. */
  .extend("publishDelivery", { scope: "file" }, async ({ galaxy }) => async (workspaceId: string, agentId: string, triggerId: string, message: string): Promise<string> => {
    const webhookId = `msg_${randomUUID()}`;
    const executionId = deliveryExecutionId(triggerId, webhookId);
    const body = { message };
    const raw = JSON.stringify(body);
    const data: WebhookReceived = {
      triggerId,
      agentId,
      webhookId,
      executionId,
      body,
      bodySha256: createHash("sha256").update(raw).digest("hex"),
      bodySize: Buffer.byteLength(raw),
      headers: { "content-type": "application/json" },
      receivedAt: new Date().toISOString(),
    };
    const id = randomUUID();
    const payload: EventEnvelope = { id, type: "webhook.received", occurredAt: data.receivedAt, workspaceId, actor: { type: "service", id: "gateway" }, data };
    const claim = await galaxy.observer.serviceClaims.get(workspaceId);
    await galaxy.observer.publishEvent({
      id,
      workspaceId,
      type: "webhook.received",
      schemaVersion: EVENT_CATALOG["webhook.received"].schemaVersion,
      payload,
      context: { claim, traceparent: incomingTraceparent(), correlationId: id, causationId: id },
    });
    return executionId;
  })
  /** The single number a count query answers, in the workspace. */
  .extend("scalar", { scope: "file" }, async ({ workerDb }) => async (workspaceId: string, query: RawBuilder<{ n: number }>): Promise<number> => {
    return inWorkspace(workerDb, workspaceId, async (tx) => (await query.execute(tx)).rows[0]?.n ?? -1);
  });

test(`another workspace's single delivery, published behind ${BACKLOG} of a busy workspace's, completes before most of them`, async ({ galaxy, workerDb, publishDelivery, scalar }) => {
  const busy = await workspaceWithAgent(galaxy, "Hooks");
  const quiet = await workspaceWithAgent(galaxy, "Hooks");
  // Enterprise: the whole backlog fits under its queue cap, so every delivery becomes an execution.
  await inWorkspace(workerDb, busy.workspaceId, (tx) => setTier(tx, busy.workspaceId, "enterprise"));
  // Every model call takes a second: the worker runs about 8 executions a second, so the
  // backlog's completions count the seconds intake took (well under 25 s even on a loaded
  // machine), not how fast this machine runs a model call.
  await galaxy.devModel.control({ latencyMs: 1_000 });

  const busyTrigger = randomUUID();
  for (let i = 0; i < BACKLOG; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, BACKLOG - i) }, (_, j) => publishDelivery(busy.workspaceId, busy.agentId, busyTrigger, `b${i + j}`)));
  }
  const mine = await publishDelivery(quiet.workspaceId, quiet.agentId, randomUUID(), "me");

  const done = await eventually(async () => {
    const response = await api(galaxy, "GET", `/api/executions/${mine}`, { token: quiet.token });
    if (response.status !== 200) return undefined;
    const current = dataOf(Execution, response);
    return current.status === "completed" ? current : undefined;
  }, 45_000, "the quiet workspace's execution to complete");

  const completedBefore = await scalar(busy.workspaceId, sql`select count(*)::int as n from executions where status = 'completed' and completed_at <= ${new Date(done.completedAt ?? 0)}`);
  // Every delivery of the backlog was started once.
  const created = await scalar(busy.workspaceId, sql`select count(*)::int as n from executions where trigger ->> 'id' = ${busyTrigger}`);
  // How many transactions wrote the backlog's executions: their `execution.queued` rows are
  // never updated, so each keeps the id of the transaction that created it. One at a time, it
  // would be one per delivery.
  const intakeTransactions = await scalar(busy.workspaceId, sql`select count(distinct xmin::text)::int as n from execution_events where type = 'execution.queued'`);

  // The rest of the backlog need not run: cancel it and let the running ones finish before the services stop.
  await inWorkspace(workerDb, busy.workspaceId, (tx) => sql`update executions set status = 'cancelled', completed_at = now() where status = 'queued'`.execute(tx));
  await galaxy.devModel.control({ reset: true });
  await eventually(async () => {
    const running = await scalar(busy.workspaceId, sql`select count(*)::int as n from executions where status = 'running'`);
    return running === 0 ? true : undefined;
  }, 20_000, "the running executions to end");

  expect(created).toBe(BACKLOG);
  expect(intakeTransactions).toBeLessThan(BACKLOG / 20);
  // Had the backlog held the quiet delivery back, the worker would have run the backlog's
  // executions all the while it took the backlog in; it ran fewer than a tenth of them.
  expect(completedBefore).toBeLessThan(BACKLOG / 10);
}, 90_000);
