import { randomUUID } from "node:crypto";
import type { EventMessage } from "@galaxy/bus";
import type { CredentialProvider, KnowledgeDocument, ResolvedCredential, Role } from "@galaxy/contracts";
import { inWorkspace } from "@galaxy/db";
import { startDevModel } from "@galaxy/dev-model/testing";
import { connectTestBus, serviceDb, testLogger } from "@galaxy/testkit";
import { test as engineTest } from "@galaxy/testkit/fixtures";
import { parseAllowlist } from "@galaxy/webhooks";
import { createAgentRegistry } from "../../src/app";
import type { RegistryDb } from "../../src/db";
import type { WorkspaceCredentials } from "../../src/knowledge/credentials";
import { handbook } from "./knowledge/documents";
import { startFakePinecone } from "./knowledge/fake-pinecone";

/** Who makes a request: a workspace, a subject and the claim signed for them. */
export interface Who {
  ws: string;
  sub: string;
  claim: string;
}

export const opts = (who: Who) => ({ claim: who.claim, workspaceId: who.ws });

export async function eventually<T>(find: () => Promise<T | undefined>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The agent registry with its knowledge bases, set up once per file: `devModel` is the
 * platform's embeddings endpoint, `workspaceModel` a workspace's own, `pinecone` a fake vector
 * store; `credentials` the workspaces' own keys, as identity would resolve them. `gatewayBus`
 * makes the requests; `added` keeps every document.added message, to hand one to the indexer
 * again (a redelivery).
 */
export const test = engineTest
  .extend("credentials", { scope: "file" }, async ({}) => new Map<string, ResolvedCredential>())
  .extend("devModel", { scope: "file" }, async ({}, { onCleanup }) => {
    const model = await startDevModel();
    onCleanup(() => model.close());
    return model;
  })
  .extend("workspaceModel", { scope: "file" }, async ({}, { onCleanup }) => {
    const model = await startDevModel();
    onCleanup(() => model.close());
    return model;
  })
  .extend("pinecone", { scope: "file" }, async ({}, { onCleanup }) => {
    const pinecone = await startFakePinecone();
    onCleanup(() => pinecone.close());
    return pinecone;
  })
  .extend("db", { scope: "file" }, async ({ env }, { onCleanup }) => {
    const db = serviceDb<RegistryDb>(env, "agent-registry");
    onCleanup(() => db.destroy());
    return db;
  })
  .extend("registry", { scope: "file" }, async ({ env, claims, db, devModel, credentials }, { onCleanup }) => {
    void claims;
    const bus = await connectTestBus(env, "agent-registry");
    const fakeCredentials: WorkspaceCredentials = {
      get: async (workspaceId: string, provider: CredentialProvider) => credentials.get(`${workspaceId}:${provider}`) ?? null,
    };
    const registry = createAgentRegistry({
      db,
      bus,
      logger: testLogger("agent-registry"),
      masterKey: env.masterKey,
      // The workspaces' own endpoints are dev model servers on loopback, which the allowlist names.
      knowledge: { openaiApiKey: "galaxy-dev", openaiBaseUrl: `${devModel.url}/v1`, maxRetries: 0, credentials: fakeCredentials, outboundPolicy: parseAllowlist("127.0.0.1") },
    });
    await registry.start();
    onCleanup(async () => {
      await bus.stopIntake();
      await registry.stop();
      await bus.close();
    });
    return registry;
  })
  .extend("gatewayBus", { scope: "file" }, async ({ env, registry }, { onCleanup }) => {
    void registry;
    const bus = await connectTestBus(env, "gateway");
    onCleanup(() => bus.close());
    return bus;
  })
  .extend("added", { scope: "file" }, async ({ gatewayBus }) => {
    const added: EventMessage[] = [];
    await gatewayBus.consume({
      durable: "knowledge_test",
      filter: "evt.*.document.added",
      handler: async (message) => {
        added.push(message);
      },
    });
    return added;
  })
  .extend("principal", { scope: "file" }, async ({ claims }) => async (ws: string, role: Role): Promise<Who> => {
    const sub = randomUUID();
    return { ws, sub, claim: await claims.sign({ ws, sub, role }) };
  })
  .extend("service", { scope: "file" }, async ({ claims }) => async (ws: string): Promise<Who> => ({
    ws,
    sub: "execution-worker",
    claim: await claims.sign({ ws, sub: "execution-worker", act: "service", role: "admin" }),
  }))
  .extend("createBase", { scope: "file" }, async ({ gatewayBus }) => (who: Who, name = "Handbook") =>
    gatewayBus.request("registry.knowledge_bases.create", { name }, opts(who)))
  .extend("addDocument", { scope: "file" }, async ({ gatewayBus }) => (who: Who, knowledgeBaseId: string, text = handbook(), title = "Handbook") =>
    gatewayBus.request("registry.documents.add", { knowledgeBaseId, title, text }, opts(who)))
  .extend("documents", { scope: "file" }, async ({ gatewayBus }) => (who: Who, knowledgeBaseId: string) =>
    gatewayBus.request("registry.documents.list", { knowledgeBaseId }, opts(who)))
  .extend("query", { scope: "file" }, async ({ gatewayBus }) => (who: Who, knowledgeBaseId: string, text: string, topK?: number) =>
    gatewayBus.request("registry.knowledge.query", { knowledgeBaseId, query: text, ...(topK ? { topK } : {}) }, opts(who)))
  .extend("settled", { scope: "file" }, async ({ documents }) =>
    /** Waits until indexing has finished (`indexed` or `failed`) and answers the document. */
    async (who: Who, knowledgeBaseId: string, documentId: string): Promise<KnowledgeDocument> =>
      eventually(async () => {
        const page = await documents(who, knowledgeBaseId);
        const doc = page.items.find((d) => d.id === documentId);
        return doc && doc.status !== "pending" ? doc : undefined;
      }, `document ${documentId} indexed`))
  .extend("outbox", { scope: "file" }, async ({ db }) =>
    /** The outbox events of a workspace, oldest first. */
    async (ws: string, type?: string) =>
      inWorkspace(db, ws, (tx) => {
        let q = tx.selectFrom("outbox").select(["type", "payload"]).orderBy("created_at").orderBy("id");
        if (type) q = q.where("type", "=", type);
        return q.execute();
      }));
