import { randomUUID } from "node:crypto";
import { describe, expect } from "vitest";
import { TerminalMessageError, type StoredEvent } from "@galaxy/bus";
import { SYSTEM_WORKSPACE_ID } from "@galaxy/contracts";
import { connectTestBus, serviceDb, testLogger } from "@galaxy/testkit";
import { createAgentRegistry, type AgentRegistry, type RegistryDb } from "@galaxy/agent-registry";
import { auditTest } from "../../test/support/audit-fixtures";

/**
 * Dead letters of the registry's document indexer (`agent-registry-documents`) go back to the
 * registry through `svc.registry.dlq.redrive`, as the worker's go back to the worker
 * (docs/replay.md), against real Postgres and NATS.
 */

/** The test switch: `document.added` events whose id is in here fail for good ("the bug"); emptying it is "the fix". */
const broken = new Set<string>();
/** Events the indexer's handler ran to the end. */
const indexed: string[] = [];

/**
 * The audit service of the file (audit-fixtures.ts; `gatewayBus` makes requests) and, set up
 * once per file:
 * - `registryDb`, `registryBus`, `registry`: the agent registry running on its own database role and bus, its
 *   indexer failing on the events in `broken` and noting those it indexed in `indexed`;
 * - `asOperator`: request options with an operator claim of the system workspace (`auditTest`'s);
 * - `publishDocumentAdded`: publishes `document.added` as the registry would, for a document that
 *   is not stored (the indexer then has nothing to do), and marks it broken.
 */
const test = auditTest()
  .extend("registryBus", { scope: "file" }, async ({ env }, { onCleanup }) => {
    const bus = await connectTestBus(env, "agent-registry");
    onCleanup(() => bus.close());
    return bus;
  })
  .extend("registryDb", { scope: "file" }, async ({ env }, { onCleanup }) => {
    const db = serviceDb<RegistryDb>(env, "agent-registry");
    onCleanup(() => db.destroy());
    return db;
  })
  .extend("registry", { scope: "file" }, async ({ env, claims, registryDb, registryBus }, { onCleanup }): Promise<AgentRegistry> => {
    // The claims' keys are served before the registry checks events against them.
    void claims;
    const registry = createAgentRegistry({ db: registryDb, bus: registryBus, logger: testLogger("agent-registry"), masterKey: env.masterKey });
    const index = registry.knowledge.indexDocument.bind(registry.knowledge);
    registry.knowledge.indexDocument = async (message) => {
      if (broken.has(message.event.id)) throw new TerminalMessageError("bug_under_test", `event ${message.event.id} hits the bug under test`);
      await index(message);
      indexed.push(message.event.id);
    };
    await registry.start();
    onCleanup(async () => {
      await registryBus.stopIntake();
      await registry.stop();
    });
    return registry;
  })
  .extend("publishDocumentAdded", { scope: "file" }, async ({ claims, registryBus }) =>
    async (workspaceId: string): Promise<StoredEvent> => {
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
    });

// Audit and the registry both run before the first test, whichever fixtures it names.
test.beforeAll(async ({ audit, registry }) => {
  void audit;
  void registry;
});

async function eventually<T>(probe: () => Promise<T | null | undefined | false>, what: string, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("dead letters of the registry's document indexer", () => {
  test("are listed, and a redrive hands one back to the registry, which applies it once", async ({ publishDocumentAdded, asOperator, gatewayBus }) => {
    const ws = randomUUID();
    const poison = await publishDocumentAdded(ws);
    const letter = await eventually(async () => {
      const page = await gatewayBus.request("audit.dead_letters.list", { consumer: "agent-registry-documents", limit: 100, offset: 0 }, asOperator());
      return page.items.find((l) => l.eventId === poison.id);
    }, "the dead letter");
    expect(letter).toMatchObject({ consumer: "agent-registry-documents", subject: `evt.${ws}.document.added`, workspaceId: ws, redrive: null });
    expect(letter.error).toContain("hits the bug under test");
    expect(indexed).not.toContain(poison.id);

    broken.clear();
    const redriven = await gatewayBus.request("audit.dead_letters.redrive", { id: letter.id }, asOperator());
    expect(redriven).toEqual({ id: letter.id, outcome: "applied", error: null });
    expect(indexed.filter((id) => id === poison.id)).toHaveLength(1);

    await expect(gatewayBus.request("audit.dead_letters.redrive", { id: letter.id }, asOperator())).rejects.toMatchObject({ status: 409, code: "dead_letter_redriven" });
    expect(indexed.filter((id) => id === poison.id)).toHaveLength(1);
  });

  test("the registry takes a redrive from audit's service claim alone", async ({ claims, gatewayBus }) => {
    const message = { subject: `evt.${randomUUID()}.document.added`, seq: 1, headers: {}, data: Buffer.from("{}").toString("base64") };
    const request = { consumer: "agent-registry-documents", message };
    const owner = await claims.sign({ ws: randomUUID(), role: "owner" });
    await expect(gatewayBus.request("registry.dlq.redrive", request, { claim: owner })).rejects.toMatchObject({ status: 403, code: "replay_runner_required" });
    const worker = await claims.sign({ ws: SYSTEM_WORKSPACE_ID, sub: "execution-worker", act: "service", role: "admin" });
    await expect(gatewayBus.request("registry.dlq.redrive", request, { claim: worker, workspaceId: SYSTEM_WORKSPACE_ID })).rejects.toMatchObject({ status: 403 });
  });
});
