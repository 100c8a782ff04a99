import { randomUUID } from "node:crypto";
import { expect } from "vitest";
import type { StoredEvent } from "@galaxy/bus";
import type { ReplayRun, StartReplayBody } from "@galaxy/contracts";
import { sql } from "@galaxy/db";
import type { AuditService } from "../../src/app";
import { UnauditableEventError } from "../../src/errors";
import { auditTest } from "./audit-fixtures";
import { agentOf, USER } from "./audit-events";

export async function eventually<T>(probe: () => Promise<T | null | undefined | false>, what: string, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Makes the service refuse, as a bug would, the events whose id is in `broken`: both ways in, the live consumer's (replay holds checked) and replays' and redrives'. */
function failOn(audit: AuditService, broken: ReadonlySet<string>): void {
  const [apply, applyLive] = [audit.log.applyEvents.bind(audit.log), audit.log.applyLive.bind(audit.log)];
  const hitsTheBug = (batch: ReadonlyArray<{ event: { id: string } }>) => {
    const bad = batch.find((m) => broken.has(m.event.id));
    if (bad) throw new UnauditableEventError(`event ${bad.event.id} hits the bug under test`);
  };
  audit.log.applyEvents = async (batch) => {
    hitsTheBug(batch);
    return apply(batch);
  };
  audit.log.applyLive = async (batch) => {
    hitsTheBug(batch);
    return applyLive(batch);
  };
}

/**
 * Operator replay of the audit log and dead-letter redrive, against real Postgres and NATS:
 * audit runs the replay and is its target. `broken` is the file's test switch: events whose id
 * is in it cannot be applied ("the bug"); emptying it is "the fix".
 */
export function replayTest() {
  const broken = new Set<string>();
  return auditTest({ beforeStart: (audit) => failOn(audit, broken) })
    .extend("broken", { scope: "file" }, async ({}) => broken)
    .extend("publishAgent", { scope: "file" }, async ({ claims, publisher }) =>
      /** Publishes `agent.created` into EVENTS as the registry would, with a client IP and user agent the chain hashes. */
      async (workspaceId: string, name: string): Promise<StoredEvent> => {
        const id = randomUUID();
        const event: StoredEvent = {
          id,
          workspaceId,
          type: "agent.created",
          schemaVersion: 1,
          payload: { id, type: "agent.created", occurredAt: new Date().toISOString(), workspaceId, actor: { type: "user", id: USER }, data: { agent: agentOf(workspaceId, name) } },
          context: {
            claim: await claims.sign({ ws: workspaceId, sub: USER, act: "user", role: "admin" }),
            traceparent: `00-${randomUUID().replaceAll("-", "")}-00f067aa0ba902b7-01`,
            correlationId: randomUUID(),
            causationId: randomUUID(),
            clientIp: "203.0.113.9",
            userAgent: "replay-test",
          },
        };
        await publisher.publishEvent(event);
        return event;
      })
    .extend("makePoison", { scope: "file" }, async ({ claims, publisher, broken }) =>
      /** Publishes an event the audit handler cannot apply while the test switch is on. */
      async (ws: string): Promise<StoredEvent> => {
        const id = randomUUID();
        broken.add(id);
        const event: StoredEvent = {
          id,
          workspaceId: ws,
          type: "agent.created",
          schemaVersion: 1,
          payload: { id, type: "agent.created", occurredAt: new Date().toISOString(), workspaceId: ws, actor: { type: "user", id: USER }, data: { agent: agentOf(ws, "poison") } },
          context: {
            claim: await claims.sign({ ws, sub: USER, act: "user", role: "admin" }),
            traceparent: `00-${randomUUID().replaceAll("-", "")}-00f067aa0ba902b7-01`,
            correlationId: randomUUID(),
            causationId: randomUUID(),
          },
        };
        await publisher.publishEvent(event);
        return event;
      })
    .extend("rowsOf", { scope: "file" }, async ({ admin }) => async (workspaceId: string) =>
      admin.selectFrom("audit_logs").select(["id", "seq", "hash", "prev_hash", "stream_seq", "action", "occurred_at"]).where("workspace_id", "=", workspaceId).orderBy("seq").execute())
    .extend("rowCount", { scope: "file" }, async ({ rowsOf }) => async (workspaceId: string, count: number): Promise<void> => {
      await eventually(async () => (await rowsOf(workspaceId)).length === count, `${count} audit rows in ${workspaceId}`);
    })
    .extend("deferredOf", { scope: "file" }, async ({ admin }) => async (workspaceId: string): Promise<number> => {
      const { rows } = await sql<{ n: string }>`select count(*) as n from audit.replay_deferred where workspace_id = ${workspaceId}`.execute(admin);
      return Number(rows[0]?.n);
    })
    .extend("replay", { scope: "file" }, async ({ gatewayBus, asOperator }) =>
      async (body: Partial<StartReplayBody> & Pick<StartReplayBody, "target">): Promise<ReplayRun> => {
        const accepted = await gatewayBus.request("audit.replays.start", body, asOperator());
        expect(accepted.status).toBe("running");
        return eventually(async () => {
          const run = await gatewayBus.request("audit.replays.get", { id: accepted.id }, asOperator());
          return run.status === "running" ? null : run;
        }, `replay ${accepted.id} to finish`);
      })
    .extend("countEvents", { scope: "file" }, async ({ auditBus }) =>
      /** How many messages of EVENTS match `filter`, counted through an ordered reader. */
      async (filter: string): Promise<number> => {
        const reader = await auditBus.orderedReader("EVENTS", { filter });
        const pending = (await reader.info()).num_pending;
        await reader.delete().catch(() => undefined);
        return pending;
      });
}
