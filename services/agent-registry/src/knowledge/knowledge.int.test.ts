import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { v7 as uuidv7 } from "uuid";
import type { Bus, EventMessage } from "@galaxy/bus";
import { DOCUMENT_MAX_BYTES, type CredentialProvider, type KnowledgeDocument, type ResolvedCredential, type Role } from "@galaxy/contracts";
import { inWorkspace, sql, type Kysely } from "@galaxy/db";
import { startDevModel, type RunningDevModel } from "@galaxy/dev-model";
import { connectTestBus, createTestEnv, serviceDb, TestClaims, testLogger, type TestEnv } from "@galaxy/testkit";
import { createAgentRegistry, type AgentRegistry } from "../app";
import type { RegistryDb } from "../db";
import { parseAllowlist } from "@galaxy/webhooks";
import type { WorkspaceCredentials } from "./credentials";
import { startFakePinecone, type FakePinecone } from "./testing/fake-pinecone";
import { handbook, TOPICS } from "./testing/documents";

let env: TestEnv;
let claims: TestClaims;
let identityBus: Bus;
let registryBus: Bus;
let caller: Bus;
let db: Kysely<RegistryDb>;
let registry: AgentRegistry;
let devModel: RunningDevModel;
/** A second OpenAI-compatible endpoint, standing for a workspace's own provider. */
let workspaceModel: RunningDevModel;
let pinecone: FakePinecone;
/** The workspaces' own credentials, as identity would resolve them. */
const credentials = new Map<string, ResolvedCredential>();
const added: EventMessage[] = [];

const fakeCredentials: WorkspaceCredentials = {
  get: async (workspaceId: string, provider: CredentialProvider) => credentials.get(`${workspaceId}:${provider}`) ?? null,
};

beforeAll(async () => {
  env = await createTestEnv(inject("engines"));
  claims = await TestClaims.create();
  identityBus = await connectTestBus(env, "identity");
  await claims.serve(identityBus);
  devModel = await startDevModel();
  workspaceModel = await startDevModel();
  pinecone = await startFakePinecone();
  db = serviceDb<RegistryDb>(env, "agent-registry");
  registryBus = await connectTestBus(env, "agent-registry");
  registry = createAgentRegistry({
    db,
    bus: registryBus,
    logger: testLogger("agent-registry"),
    masterKey: env.masterKey,
    // The workspaces' own endpoints below are dev model servers on loopback, which the allowlist names.
    knowledge: { openaiApiKey: "galaxy-dev", openaiBaseUrl: `${devModel.url}/v1`, maxRetries: 0, credentials: fakeCredentials, outboundPolicy: parseAllowlist("127.0.0.1") },
  });
  await registry.start();
  caller = await connectTestBus(env, "gateway");
  // What the registry's indexer received, to hand the same message to it again (a redelivery).
  await caller.consume({
    durable: "knowledge_test",
    filter: "evt.*.document.added",
    handler: async (message) => {
      added.push(message);
    },
  });
});

afterAll(async () => {
  await caller?.close();
  await registryBus?.stopIntake();
  await registry?.stop();
  await registryBus?.close();
  await identityBus?.close();
  await db?.destroy();
  await devModel?.close();
  await workspaceModel?.close();
  await pinecone?.close();
  await env?.cleanup();
});

interface Who {
  ws: string;
  sub: string;
  claim: string;
}

async function principal(ws: string, role: Role): Promise<Who> {
  const sub = randomUUID();
  return { ws, sub, claim: await claims.sign({ ws, sub, role }) };
}

async function service(ws: string): Promise<Who> {
  return { ws, sub: "execution-worker", claim: await claims.sign({ ws, sub: "execution-worker", act: "service", role: "admin" }) };
}

const opts = (who: Who) => ({ claim: who.claim, workspaceId: who.ws });
const createBase = (who: Who, name = "Handbook") => caller.request("registry.knowledge_bases.create", { name }, opts(who));
const addDocument = (who: Who, knowledgeBaseId: string, text = handbook(), title = "Handbook") =>
  caller.request("registry.documents.add", { knowledgeBaseId, title, text }, opts(who));
const documents = (who: Who, knowledgeBaseId: string) => caller.request("registry.documents.list", { knowledgeBaseId }, opts(who));
const query = (who: Who, knowledgeBaseId: string, text: string, topK?: number) =>
  caller.request("registry.knowledge.query", { knowledgeBaseId, query: text, ...(topK ? { topK } : {}) }, opts(who));

async function eventually<T>(find: () => Promise<T | undefined>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Waits until indexing has finished (`indexed` or `failed`) and answers the document. */
async function settled(who: Who, knowledgeBaseId: string, documentId: string): Promise<KnowledgeDocument> {
  return eventually(async () => {
    const page = await documents(who, knowledgeBaseId);
    const doc = page.items.find((d) => d.id === documentId);
    return doc && doc.status !== "pending" ? doc : undefined;
  }, `document ${documentId} indexed`);
}

/** The outbox events of a workspace, oldest first. */
async function outbox(ws: string, type?: string) {
  const rows = await inWorkspace(db, ws, (tx) => {
    let q = tx.selectFrom("outbox").select(["type", "payload"]).orderBy("created_at").orderBy("id");
    if (type) q = q.where("type", "=", type);
    return q.execute();
  });
  return rows;
}

describe("knowledge bases", () => {
  test("a member creates one; viewers read and list it; its creation is an event", async () => {
    const member = await principal(uuidv7(), "member");
    const viewer = await principal(member.ws, "viewer");
    const base = await createBase(member, "  Support handbook ");
    expect(base).toEqual({ id: expect.any(String), workspaceId: member.ws, name: "Support handbook", embeddingProvider: "openai", documentCount: 0, createdBy: member.sub, createdAt: expect.any(String) });
    expect(await caller.request("registry.knowledge_bases.get", { id: base.id }, opts(viewer))).toEqual(base);
    const page = await caller.request("registry.knowledge_bases.list", {}, opts(viewer));
    expect(page).toEqual({ items: [base], pagination: { total: 1, limit: 20, offset: 0, hasMore: false } });
    const events = await outbox(member.ws, "knowledge_base.created");
    expect(events).toHaveLength(1);
    expect(events[0]?.payload).toMatchObject({ type: "knowledge_base.created", actor: { type: "user", id: member.sub }, data: { knowledgeBase: base } });
    // Without a Pinecone key, the vectors live in Postgres, embedded by the dev model.
    const row = await inWorkspace(db, member.ws, (tx) => tx.selectFrom("knowledge_bases").select(["vector_store", "embedding_model"]).where("id", "=", base.id).executeTakeFirstOrThrow());
    expect(row).toEqual({ vector_store: "postgres", embedding_model: "galaxy-dev-embed" });
  });

  test("viewers may not create knowledge bases or add documents", async () => {
    const member = await principal(uuidv7(), "member");
    const viewer = await principal(member.ws, "viewer");
    await expect(createBase(viewer)).rejects.toMatchObject({ status: 403, code: "forbidden" });
    const base = await createBase(member);
    await expect(addDocument(viewer, base.id)).rejects.toMatchObject({ status: 403, code: "forbidden" });
    expect((await documents(member, base.id)).items).toEqual([]);
  });

  test("a blank name is a 400", async () => {
    const member = await principal(uuidv7(), "member");
    await expect(createBase(member, "   ")).rejects.toMatchObject({ status: 400, code: "validation_failed" });
  });
});

describe("documents", () => {
  test("are accepted as pending, then chunked, embedded and indexed in the background", async () => {
    const member = await principal(uuidv7(), "member");
    const base = await createBase(member);
    const text = handbook();
    const doc = await addDocument(member, base.id, text);
    expect(doc).toMatchObject({ knowledgeBaseId: base.id, workspaceId: member.ws, title: "Handbook", sizeBytes: Buffer.byteLength(text), status: "pending", chunkCount: null, error: null, indexedAt: null });

    const indexed = await settled(member, base.id, doc.id);
    expect(indexed).toMatchObject({ status: "indexed", error: null, indexedAt: expect.any(String) });
    expect(indexed.chunkCount).toBeGreaterThan(2);
    const chunks = await inWorkspace(db, member.ws, (tx) => tx.selectFrom("knowledge_chunks").selectAll().where("document_id", "=", doc.id).orderBy("chunk_index").execute());
    expect(chunks.map((c) => c.chunk_index)).toEqual([...Array(indexed.chunkCount).keys()]);
    expect(chunks.every((c) => c.embedding.length === 512 && c.text.length <= 800)).toBe(true);
    expect((await caller.request("registry.knowledge_bases.get", { id: base.id }, opts(member))).documentCount).toBe(1);

    // Both events carry title, size and chunk count, never the text.
    const events = await outbox(member.ws);
    const addedEvent = events.find((e) => e.type === "document.added");
    const indexedEvent = events.find((e) => e.type === "document.indexed");
    expect(addedEvent?.payload).toMatchObject({ actor: { type: "user", id: member.sub }, data: { documentId: doc.id, knowledgeBaseId: base.id, title: "Handbook", sizeBytes: doc.sizeBytes } });
    expect(indexedEvent?.payload).toMatchObject({
      actor: { type: "service", id: "agent-registry" },
      data: { documentId: doc.id, knowledgeBaseId: base.id, title: "Handbook", status: "indexed", chunkCount: indexed.chunkCount, error: null },
    });
    expect(JSON.stringify(events)).not.toContain("Rotterdam");
  });

  test("a query ranks the chunk that shares its words first", async () => {
    const member = await principal(uuidv7(), "member");
    const viewer = await principal(member.ws, "viewer");
    const base = await createBase(member);
    const doc = await addDocument(member, base.id);
    await settled(member, base.id, doc.id);

    const cases: Array<[string, string]> = [
      ["How long does shipping to Europe take?", "Rotterdam"],
      ["Can I get a refund for a returned product?", "refund"],
      ["What are the password rules?", "twelve characters"],
      ["When is the support office in Lisbon open?", "Lisbon"],
    ];
    for (const [question, expected] of cases) {
      const results = await query(viewer, base.id, question, 3);
      expect(results).toHaveLength(3);
      expect(results[0]?.chunk, question).toContain(expected);
      expect(results[0]).toMatchObject({ documentId: doc.id, chunkIndex: expect.any(Number), score: expect.any(Number) });
      expect(results.map((r) => r.score)).toEqual([...results.map((r) => r.score)].sort((a, b) => b - a));
    }
    // topK defaults to 5 and is capped by what there is.
    expect((await query(viewer, base.id, "shipping")).length).toBeLessThanOrEqual(5);
    await expect(query(viewer, base.id, "shipping", 51)).rejects.toMatchObject({ status: 400 });
  });

  test("a document over 512 KiB is a 413 document_too_large, and nothing is stored", async () => {
    const member = await principal(uuidv7(), "member");
    const base = await createBase(member);
    // Multi-byte characters: the limit is on UTF-8 bytes, not characters.
    const text = "é".repeat(DOCUMENT_MAX_BYTES / 2 + 1);
    await expect(addDocument(member, base.id, text)).rejects.toMatchObject({ status: 413, code: "document_too_large" });
    expect((await documents(member, base.id)).items).toEqual([]);
    expect(await outbox(member.ws, "document.added")).toEqual([]);
    const justUnder = "x".repeat(DOCUMENT_MAX_BYTES);
    const largest = await addDocument(member, base.id, justUnder, "Exactly 512 KiB");
    expect(largest).toMatchObject({ status: "pending", sizeBytes: DOCUMENT_MAX_BYTES });
    // One 512 KiB word: 656 chunks of 800 characters, embedded 64 at a time.
    expect(await settled(member, base.id, largest.id)).toMatchObject({ status: "indexed", chunkCount: Math.ceil(DOCUMENT_MAX_BYTES / 800) });
  });

  test("a blank text or title is a 400", async () => {
    const member = await principal(uuidv7(), "member");
    const base = await createBase(member);
    await expect(addDocument(member, base.id, "   \n ")).rejects.toMatchObject({ status: 400, details: { text: expect.any(String) } });
    await expect(addDocument(member, base.id, "text", " ")).rejects.toMatchObject({ status: 400, details: { title: expect.any(String) } });
  });

  test("indexing is idempotent: a redelivered document.added changes nothing, a retry after a crash rewrites the same chunks", async () => {
    const member = await principal(uuidv7(), "member");
    const base = await createBase(member);
    const doc = await addDocument(member, base.id);
    const indexed = await settled(member, base.id, doc.id);
    const message = await eventually(async () => added.find((m) => m.event.type === "document.added" && m.event.data.documentId === doc.id), "the document.added message");

    await registry.knowledge.indexDocument(message);
    expect(await outbox(member.ws, "document.indexed")).toHaveLength(1);
    const count = async () => (await inWorkspace(db, member.ws, (tx) => tx.selectFrom("knowledge_chunks").select("chunk_index").where("document_id", "=", doc.id).execute())).length;
    expect(await count()).toBe(indexed.chunkCount);

    // As if the registry had crashed after storing the chunks but before marking the document.
    await inWorkspace(db, member.ws, (tx) => tx.updateTable("knowledge_documents").set({ status: "pending", chunk_count: null, indexed_at: null }).where("id", "=", doc.id).execute());
    await registry.knowledge.indexDocument(message);
    expect(await count()).toBe(indexed.chunkCount);
    expect((await documents(member, base.id)).items[0]).toMatchObject({ status: "indexed", chunkCount: indexed.chunkCount });
    expect(await outbox(member.ws, "document.indexed")).toHaveLength(2);
  });

  test("a provider that fails for a while is retried; one that refuses marks the document failed", async () => {
    const member = await principal(uuidv7(), "member");
    const base = await createBase(member);
    try {
      await devModel.control({ reset: true, failNext: { count: 2, status: 503 } });
      const retried = await addDocument(member, base.id, TOPICS.refunds, "Refunds");
      expect(await settled(member, base.id, retried.id)).toMatchObject({ status: "indexed", chunkCount: 1 });

      await devModel.control({ reset: true, requireApiKey: "sk-not-what-the-registry-has" });
      const refused = await addDocument(member, base.id, TOPICS.office, "Office");
      const failed = await settled(member, base.id, refused.id);
      expect(failed).toMatchObject({ status: "failed", chunkCount: null, error: expect.stringContaining("refused") });
      const events = await outbox(member.ws, "document.indexed");
      expect(events.at(-1)?.payload).toMatchObject({ data: { documentId: refused.id, status: "failed", chunkCount: 0, error: failed.error } });
      expect((await documents(member, base.id)).items.map((d) => d.status).sort()).toEqual(["failed", "indexed"]);
    } finally {
      await devModel.control({ reset: true });
    }
  });
});

describe("workspace credentials", () => {
  test("a workspace's own OpenAI key and base URL embed its documents and queries", async () => {
    const member = await principal(uuidv7(), "member");
    credentials.set(`${member.ws}:openai`, { apiKey: "sk-workspace-own-7d1c", baseUrl: `${workspaceModel.url}/v1` });
    await workspaceModel.control({ reset: true, requireApiKey: "sk-workspace-own-7d1c" });
    const before = await fetch(`${devModel.url}/_control`).then((r) => r.json() as Promise<{ modelCalls: number }>);
    const base = await createBase(member);
    const doc = await addDocument(member, base.id);
    await settled(member, base.id, doc.id);
    expect((await query(member, base.id, "shipping to Europe", 1))[0]?.chunk).toContain("Rotterdam");
    const own = await fetch(`${workspaceModel.url}/_control`).then((r) => r.json() as Promise<{ modelCalls: number; lastApiKeyLast4: string }>);
    expect(own.modelCalls).toBeGreaterThanOrEqual(2);
    expect(own.lastApiKeyLast4).toBe("7d1c");
    const after = await fetch(`${devModel.url}/_control`).then((r) => r.json() as Promise<{ modelCalls: number }>);
    expect(after.modelCalls).toBe(before.modelCalls);
    // Made with a real OpenAI key: OpenAI's model, not the dev model's, and that source for good.
    const row = await inWorkspace(db, member.ws, (tx) =>
      tx.selectFrom("knowledge_bases").select(["embedding_model", "embedding_source", "embedding_dimensions"]).where("id", "=", base.id).executeTakeFirstOrThrow(),
    );
    expect(row).toEqual({ embedding_model: "text-embedding-3-small", embedding_source: "workspace", embedding_dimensions: 1536 });
  });

  test("a knowledge base keeps the endpoint it was created with: setting or removing a workspace key later changes nothing silently", async () => {
    const member = await principal(uuidv7(), "member");
    // Created on the platform's endpoint (the dev model), before the workspace had a key.
    const platformBase = await createBase(member, "Platform");
    await settled(member, platformBase.id, (await addDocument(member, platformBase.id, TOPICS.refunds, "Refunds")).id);
    credentials.set(`${member.ws}:openai`, { apiKey: "sk-workspace-later-0a0a", baseUrl: `${workspaceModel.url}/v1` });
    await workspaceModel.control({ reset: true });
    const later = await addDocument(member, platformBase.id, TOPICS.shipping, "Shipping");
    expect(await settled(member, platformBase.id, later.id)).toMatchObject({ status: "indexed" });
    expect((await query(member, platformBase.id, "shipping to Europe", 1))[0]?.chunk).toContain("Rotterdam");
    // The workspace's endpoint embedded nothing of the platform's knowledge base.
    const own = await fetch(`${workspaceModel.url}/_control`).then((r) => r.json() as Promise<{ modelCalls: number }>);
    expect(own.modelCalls).toBe(0);

    // Created with the workspace's key; the key is then removed: a clear error, never the platform's key.
    const ownBase = await createBase(member, "Own");
    credentials.delete(`${member.ws}:openai`);
    const orphan = await addDocument(member, ownBase.id, TOPICS.office, "Office");
    expect(await settled(member, ownBase.id, orphan.id)).toMatchObject({ status: "failed", error: expect.stringContaining("no longer set") });
    await expect(query(member, ownBase.id, "Lisbon")).rejects.toMatchObject({ code: "embedding_credential_missing" });
  });

  test("vectors of another length than the knowledge base's are an embedding_dimension_mismatch, not an empty search", async () => {
    const member = await principal(uuidv7(), "member");
    const base = await createBase(member);
    await settled(member, base.id, (await addDocument(member, base.id, TOPICS.refunds, "Refunds")).id);
    const recorded = await inWorkspace(db, member.ws, (tx) => tx.selectFrom("knowledge_bases").select("embedding_dimensions").where("id", "=", base.id).executeTakeFirstOrThrow());
    expect(recorded.embedding_dimensions).toBe(512);
    // As if the endpoint behind it had changed to a model of 768 dimensions when the chunks were written.
    await inWorkspace(db, member.ws, (tx) => tx.updateTable("knowledge_bases").set({ embedding_dimensions: 768 }).where("id", "=", base.id).execute());
    await expect(query(member, base.id, "refund")).rejects.toMatchObject({ status: 409, code: "embedding_dimension_mismatch" });
    const { results } = await caller
      .request("registry.knowledge.search", { knowledgeBaseIds: [base.id], query: "refund" }, opts(await service(member.ws)))
      .catch((error: unknown) => ({ results: error }));
    expect(results).toMatchObject({ code: "embedding_dimension_mismatch" });
    const doc = await addDocument(member, base.id, TOPICS.office, "Office");
    expect(await settled(member, base.id, doc.id)).toMatchObject({ status: "failed", error: expect.stringContaining("768") });
  });

  test("a workspace base URL the outbound policy refuses (cloud metadata, an unlisted host) is never called", async () => {
    const member = await principal(uuidv7(), "member");
    credentials.set(`${member.ws}:openai`, { apiKey: "sk-workspace-metadata", baseUrl: "http://169.254.169.254/latest/" });
    const base = await createBase(member);
    const doc = await addDocument(member, base.id, TOPICS.office, "Office");
    expect(await settled(member, base.id, doc.id)).toMatchObject({ status: "failed", error: expect.stringContaining("not allowed") });
    const refusedQuery = await query(member, base.id, "Lisbon").catch((error: unknown) => error);
    expect(refusedQuery).toMatchObject({ code: "embedding_failed", message: expect.stringContaining("169.254.169.254 is not on OUTBOUND_HOST_ALLOWLIST") });

    const pineconeUser = await principal(uuidv7(), "member");
    credentials.set(`${pineconeUser.ws}:pinecone`, { apiKey: pinecone.apiKey, baseUrl: pinecone.url.replace("127.0.0.1", "localhost") });
    const pineconeBase = await createBase(pineconeUser);
    const refused = await addDocument(pineconeUser, pineconeBase.id, TOPICS.office, "Office");
    // Refused is final: no retries, the document fails at once with the reason.
    expect(await settled(pineconeUser, pineconeBase.id, refused.id)).toMatchObject({ status: "failed", error: expect.stringContaining("localhost is not on OUTBOUND_HOST_ALLOWLIST") });
    await expect(query(pineconeUser, pineconeBase.id, "Lisbon")).rejects.toMatchObject({ code: "vector_store_not_allowed" });
    expect(pinecone.namespaces.get(pineconeUser.ws)).toBeUndefined();
  });

  test("a workspace with a Pinecone key keeps its knowledge bases in Pinecone, in its own namespace", async () => {
    const member = await principal(uuidv7(), "member");
    credentials.set(`${member.ws}:pinecone`, { apiKey: pinecone.apiKey, baseUrl: pinecone.url });
    const base = await createBase(member);
    const row = await inWorkspace(db, member.ws, (tx) => tx.selectFrom("knowledge_bases").select("vector_store").where("id", "=", base.id).executeTakeFirstOrThrow());
    expect(row.vector_store).toBe("pinecone");
    const doc = await addDocument(member, base.id);
    const indexed = await settled(member, base.id, doc.id);
    expect(indexed.status).toBe("indexed");
    expect(pinecone.namespaces.get(member.ws)?.size).toBe(indexed.chunkCount);
    // Nothing of it in Postgres.
    expect(await inWorkspace(db, member.ws, (tx) => tx.selectFrom("knowledge_chunks").select("chunk_index").execute())).toEqual([]);
    expect((await query(member, base.id, "What are the password rules?", 2))[0]?.chunk).toContain("twelve characters");
    // The worker's search reaches it too.
    const { results } = await caller.request("registry.knowledge.search", { knowledgeBaseIds: [base.id], query: "Lisbon office hours" }, opts(await service(member.ws)));
    expect(results[0]).toMatchObject({ knowledgeBaseId: base.id, documentId: doc.id });
    expect(results[0]?.chunk).toContain("Lisbon");
  });
});

describe("documents left pending", () => {
  test("the sweep marks failed those pending long after they were added (every delivery lost), with their event; recent ones wait", async () => {
    const member = await principal(uuidv7(), "member");
    const base = await createBase(member);
    // Two documents whose document.added never reaches the indexer (as if every delivery crashed it).
    const insert = (title: string) =>
      inWorkspace(db, member.ws, (tx) =>
        tx
          .insertInto("knowledge_documents")
          .values({ id: uuidv7(), workspace_id: member.ws, knowledge_base_id: base.id, title, text: TOPICS.office, size_bytes: 10, status: "pending", chunk_count: null, error: null, indexed_at: null, created_by: member.sub })
          .returning("id")
          .executeTakeFirstOrThrow(),
      );
    const stale = await insert("Stale");
    const recent = await insert("Recent");
    await inWorkspace(db, member.ws, (tx) => tx.updateTable("knowledge_documents").set({ created_at: sql<Date>`now() - interval '2 hours'` }).where("id", "=", stale.id).execute());

    expect(await registry.knowledge.failStalePending(3_600)).toBeGreaterThanOrEqual(1);
    const listed = (await documents(member, base.id)).items;
    expect(listed.find((d) => d.id === stale.id)).toMatchObject({ status: "failed", error: expect.stringContaining("add the document again") });
    expect(listed.find((d) => d.id === recent.id)).toMatchObject({ status: "pending" });
    const events = await outbox(member.ws, "document.indexed");
    expect(events.map((e) => e.payload)).toEqual([
      expect.objectContaining({ actor: { type: "service", id: "agent-registry" }, data: expect.objectContaining({ documentId: stale.id, status: "failed", chunkCount: 0 }) }),
    ]);
    // Nothing left to sweep for this workspace.
    await registry.knowledge.failStalePending(3_600);
    expect(await outbox(member.ws, "document.indexed")).toHaveLength(1);
  });
});

describe("registry.knowledge.search (the execution worker's)", () => {
  test("searches the asked knowledge bases of the claim's workspace; unknown and foreign ids are simply absent", async () => {
    const member = await principal(uuidv7(), "member");
    const stranger = await principal(uuidv7(), "member");
    const [first, second] = [await createBase(member, "Refunds"), await createBase(member, "Shipping")];
    const foreign = await createBase(stranger, "Foreign");
    const docs = [
      await addDocument(member, first.id, TOPICS.refunds, "Refunds"),
      await addDocument(member, second.id, TOPICS.shipping, "Shipping"),
      await addDocument(stranger, foreign.id, TOPICS.shipping, "Foreign shipping"),
    ];
    await settled(member, first.id, docs[0]?.id ?? "");
    await settled(member, second.id, docs[1]?.id ?? "");
    await settled(stranger, foreign.id, docs[2]?.id ?? "");

    const worker = await service(member.ws);
    const { results } = await caller.request("registry.knowledge.search", { knowledgeBaseIds: [first.id, second.id, foreign.id, randomUUID()], query: "shipping to Europe", topK: 10 }, opts(worker));
    expect(results.map((r) => r.knowledgeBaseId)).toEqual([second.id, first.id]);
    expect(results[0]).toMatchObject({ documentId: docs[1]?.id, chunkIndex: 0, chunk: TOPICS.shipping });
    expect(results.every((r) => r.knowledgeBaseId !== foreign.id)).toBe(true);
    // Not a person's lookup: no incident is reported for the foreign id.
    expect(await outbox(member.ws, "security.cross_workspace_attempt")).toEqual([]);

    const none = await caller.request("registry.knowledge.search", { knowledgeBaseIds: [randomUUID()], query: "anything" }, opts(worker));
    expect(none).toEqual({ results: [] });
    await expect(caller.request("registry.knowledge.search", { knowledgeBaseIds: [], query: "x" }, opts(worker))).rejects.toMatchObject({ status: 400 });
  });
});

describe("isolation between workspaces", () => {
  test("another workspace's knowledge base is a 404 on every lookup, and each attempt is a security incident", async () => {
    const owner = await principal(uuidv7(), "member");
    const base = await createBase(owner);
    const outsider = await principal(uuidv7(), "owner");
    const attempts: Array<[string, () => Promise<unknown>]> = [
      ["knowledge_bases.get", () => caller.request("registry.knowledge_bases.get", { id: base.id }, opts(outsider))],
      ["documents.add", () => addDocument(outsider, base.id)],
      ["documents.list", () => documents(outsider, base.id)],
      ["knowledge.query", () => query(outsider, base.id, "anything")],
    ];
    for (const [, attempt] of attempts) await expect(attempt()).rejects.toMatchObject({ status: 404, code: "knowledge_base_not_found" });
    const incidents = await outbox(outsider.ws, "security.cross_workspace_attempt");
    expect(incidents.map((e) => e.payload)).toEqual(
      attempts.map(([operation]) => expect.objectContaining({ data: expect.objectContaining({ targetType: "knowledge_base", targetId: base.id, operation, actor: { type: "user", id: outsider.sub } }) })),
    );
    // Nothing was added to the owner's knowledge base; a random id is a 404 without an incident.
    expect((await documents(owner, base.id)).items).toEqual([]);
    await expect(caller.request("registry.knowledge_bases.get", { id: randomUUID() }, opts(outsider))).rejects.toMatchObject({ status: 404 });
    expect(await outbox(outsider.ws, "security.cross_workspace_attempt")).toHaveLength(attempts.length);
    // Row-level security: the outsider's workspace sees none of the owner's rows.
    const seen = await inWorkspace(db, outsider.ws, async (tx) => ({
      bases: await tx.selectFrom("knowledge_bases").select("id").execute(),
      chunks: await sql<{ n: number | string }>`select count(*) as n from knowledge_chunks`.execute(tx),
    }));
    expect(seen.bases).toEqual([]);
    expect(Number(seen.chunks.rows[0]?.n)).toBe(0);
  });
});
