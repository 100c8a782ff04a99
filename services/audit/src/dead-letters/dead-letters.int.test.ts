import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { TerminalMessageError, type Bus, type StoredEvent } from "@galaxy/bus";
import { SYSTEM_WORKSPACE_ID } from "@galaxy/contracts";
import type { Kysely } from "@galaxy/db";
import { connectTestBus, createTestEnv, serviceDb, testLogger, TestClaims, type TestEnv } from "@galaxy/testkit";
import { createAgentRegistry, type AgentRegistry, type RegistryDb } from "@galaxy/agent-registry";
import { createAudit, type AuditService } from "../app";
import type { AuditDb } from "../db";

/**
 * Dead letters of the registry's document indexer (`agent-registry-documents`) go back to the
 * registry through `svc.registry.dlq.redrive`, as the worker's go back to the worker
 * (docs/replay.md), against real Postgres and NATS.
 */

let env: TestEnv;
let claims: TestClaims;
let identityBus: Bus;
let auditBus: Bus;
let registryBus: Bus;
let caller: Bus;
let auditDb: Kysely<AuditDb>;
let registryDb: Kysely<RegistryDb>;
let audit: AuditService;
let registry: AgentRegistry;
let operator: string;

/** The test switch: `document.added` events whose id is in here fail for good ("the bug"); emptying it is "the fix". */
const broken = new Set<string>();
/** Events the indexer's handler ran to the end. */
const indexed: string[] = [];

beforeAll(async () => {
  env = await createTestEnv(inject("engines"));
  claims = await TestClaims.create();
  identityBus = await connectTestBus(env, "identity");
  await claims.serve(identityBus);
  auditDb = serviceDb<AuditDb>(env, "audit");
  auditBus = await connectTestBus(env, "audit");
  audit = createAudit({ db: auditDb, bus: auditBus, logger: testLogger("audit") });
  await audit.start();
  registryDb = serviceDb<RegistryDb>(env, "agent-registry");
  registryBus = await connectTestBus(env, "agent-registry");
  registry = createAgentRegistry({ db: registryDb, bus: registryBus, logger: testLogger("agent-registry"), masterKey: env.masterKey });
  const index = registry.knowledge.indexDocument.bind(registry.knowledge);
  registry.knowledge.indexDocument = async (message) => {
    if (broken.has(message.event.id)) throw new TerminalMessageError("bug_under_test", `event ${message.event.id} hits the bug under test`);
    await index(message);
    indexed.push(message.event.id);
  };
  await registry.start();
  caller = await connectTestBus(env, "gateway");
  operator = await claims.sign({ ws: SYSTEM_WORKSPACE_ID, sub: "galaxy-cli", act: "operator", role: "admin" });
});

afterAll(async () => {
  await Promise.all([auditBus?.stopIntake(), registryBus?.stopIntake()]);
  await Promise.all([audit?.stop(), registry?.stop()]);
  await Promise.all([auditBus?.close(), registryBus?.close(), caller?.close(), identityBus?.close()]);
  await Promise.all([auditDb?.destroy(), registryDb?.destroy()]);
  await env?.cleanup();
});

const asOperator = () => ({ claim: operator, workspaceId: SYSTEM_WORKSPACE_ID });

async function eventually<T>(probe: () => Promise<T | null | undefined | false>, what: string, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Publishes `document.added` as the registry would, for a document that is not stored (the indexer then has nothing to do). */
async function publishDocumentAdded(workspaceId: string): Promise<StoredEvent> {
  const id = randomUUID();
  const user = randomUUID();
  const event: StoredEvent = {
    id,
    workspaceId,
    type: "document.added",
    schemaVersion: 1,
    payload: {
      id,
      type: "document.added",
      occurredAt: new Date().toISOString(),
      workspaceId,
      actor: { type: "user", id: user },
      data: { documentId: randomUUID(), knowledgeBaseId: randomUUID(), title: "Handbook", sizeBytes: 12 },
    },
    context: {
      claim: await claims.sign({ ws: workspaceId, sub: user, act: "user", role: "admin" }),
      traceparent: `00-${randomUUID().replaceAll("-", "")}-00f067aa0ba902b7-01`,
      correlationId: randomUUID(),
      causationId: randomUUID(),
    },
  };
  broken.add(id);
  await registryBus.publishEvent(event);
  return event;
}

describe("dead letters of the registry's document indexer", () => {
  test("are listed, and a redrive hands one back to the registry, which applies it once", async () => {
    const ws = randomUUID();
    const poison = await publishDocumentAdded(ws);
    const letter = await eventually(async () => {
      const page = await caller.request("audit.dead_letters.list", { consumer: "agent-registry-documents", limit: 100, offset: 0 }, asOperator());
      return page.items.find((l) => l.eventId === poison.id);
    }, "the dead letter");
    expect(letter).toMatchObject({ consumer: "agent-registry-documents", subject: `evt.${ws}.document.added`, workspaceId: ws, redrive: null });
    expect(letter.error).toContain("hits the bug under test");
    expect(indexed).not.toContain(poison.id);

    broken.clear();
    const redriven = await caller.request("audit.dead_letters.redrive", { id: letter.id }, asOperator());
    expect(redriven).toEqual({ id: letter.id, outcome: "applied", error: null });
    expect(indexed.filter((id) => id === poison.id)).toHaveLength(1);

    await expect(caller.request("audit.dead_letters.redrive", { id: letter.id }, asOperator())).rejects.toMatchObject({ status: 409, code: "dead_letter_redriven" });
    expect(indexed.filter((id) => id === poison.id)).toHaveLength(1);
  });

  test("the registry takes a redrive from audit's service claim alone", async () => {
    const message = { subject: `evt.${randomUUID()}.document.added`, seq: 1, headers: {}, data: Buffer.from("{}").toString("base64") };
    const request = { consumer: "agent-registry-documents", message };
    const owner = await claims.sign({ ws: randomUUID(), role: "owner" });
    await expect(caller.request("registry.dlq.redrive", request, { claim: owner })).rejects.toMatchObject({ status: 403, code: "replay_runner_required" });
    const worker = await claims.sign({ ws: SYSTEM_WORKSPACE_ID, sub: "execution-worker", act: "service", role: "admin" });
    await expect(caller.request("registry.dlq.redrive", request, { claim: worker, workspaceId: SYSTEM_WORKSPACE_ID })).rejects.toMatchObject({ status: 403 });
  });
});
