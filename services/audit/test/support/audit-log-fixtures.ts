import { randomUUID } from "node:crypto";
import type { StoredEvent } from "@galaxy/bus";
import type { EventData, EventType, Role } from "@galaxy/contracts";
import type { Kysely, Selectable } from "@galaxy/db";
import type { HashedAuditEntry } from "../../src/chain/chain";
import type { AuditDb } from "../../src/db";
import { auditTest } from "./audit-fixtures";
import { agentOf, deadLettersOn, eventually, USER, type PublishOptions } from "./audit-events";
import { insertEntriesAfter } from "./chain-seed";

export type AuditRow = Selectable<AuditDb["audit_logs"]>;

/** Every entry of the workspace in chain order, read past row-level security. */
const rowsIn = (admin: Kysely<AuditDb>) => (workspaceId: string) =>
  admin.selectFrom("audit_logs").selectAll().where("workspace_id", "=", workspaceId).orderBy("seq").execute();

/**
 * The audit service (audit-fixtures.ts) and what the audit log's tests do with it, once per file:
 * make and publish events, read a workspace's rows, seed a chain, list as a role, read dead letters.
 */
export const test = auditTest()
  .extend("eventOf", { scope: "file" }, async ({ claims }) =>
    /** An event as a service's outbox would store it, signed with a valid claim unless told. */
    async <T extends EventType>(workspaceId: string, type: T, data: EventData<T>, options: PublishOptions = {}): Promise<StoredEvent> => {
      const id = randomUUID();
      const actor = options.actor ?? { type: "user", id: USER };
      return {
        id,
        workspaceId,
        type,
        schemaVersion: 1,
        payload: { id, type, occurredAt: options.occurredAt ?? new Date().toISOString(), workspaceId, actor, data },
        context: {
          claim: options.claim ?? (await claims.sign({ ws: workspaceId, sub: actor.id, act: actor.type, role: "admin" })),
          traceparent: options.traceparent ?? `00-${randomUUID().replaceAll("-", "")}-00f067aa0ba902b7-01`,
          correlationId: randomUUID(),
          causationId: randomUUID(),
          clientIp: options.clientIp,
          userAgent: options.userAgent,
        },
      };
    })
  .extend("publish", { scope: "file" }, async ({ eventOf, publisher }) =>
    async <T extends EventType>(workspaceId: string, type: T, data: EventData<T>, options: PublishOptions = {}): Promise<StoredEvent> => {
      const event = await eventOf(workspaceId, type, data, options);
      await publisher.publishEvent(event);
      return event;
    })
  .extend("agentCreated", { scope: "file" }, async ({ publish }) =>
    (workspaceId: string, options: PublishOptions = {}, agent = agentOf(workspaceId)) => publish(workspaceId, "agent.created", { agent }, options))
  .extend("rowsOf", { scope: "file" }, async ({ admin }) => rowsIn(admin))
  .extend("entriesOf", { scope: "file" }, async ({ rowsOf }) =>
    (workspaceId: string, count: number) => eventually(() => rowsOf(workspaceId), (rows) => rows.length >= count, `${count} entries`))
  .extend("storeChain", { scope: "file" }, async ({ admin }) =>
    /** Stores a made-up chain (or part of one) through the service's own insert, after whatever the workspace's chain ends with. */
    async (workspaceId: string, entries: readonly HashedAuditEntry[]): Promise<void> => {
      const first = entries[0];
      if (!first) return;
      const inserted = await admin.transaction().execute((tx) => insertEntriesAfter(tx, workspaceId, first.prevHash, entries.map((entry) => ({ entry, streamSeq: 0 }))));
      if (inserted !== entries.length) throw new Error(`stored ${inserted} of ${entries.length} entries`);
    })
  .extend("listAs", { scope: "file" }, async ({ claims, gatewayBus }) =>
    async (workspaceId: string, role: Role, query: Record<string, unknown> = {}) => {
      const claim = await claims.sign({ ws: workspaceId, role });
      return gatewayBus.request("audit.logs.list", query, { claim, workspaceId });
    })
  .extend("deadLetters", { scope: "file" }, async ({ publisher }) => (subject: string) => deadLettersOn(publisher, subject));
