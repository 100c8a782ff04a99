import { describe, expect } from "vitest";
import { randomUUID } from "node:crypto";
import { inWorkspace, type Kysely } from "@galaxy/db";
import { serviceDb } from "@galaxy/testkit";
import { test as engineTest } from "@galaxy/testkit/fixtures";
import type { RegistryDb } from "../db";
import { VectorStoreNotConfiguredError } from "./knowledge.errors";
import { PineconeVectorStore } from "./pinecone-store";
import { PostgresVectorStore } from "./postgres-store";
import { startFakePinecone, type FakePinecone } from "../../test/support/knowledge/fake-pinecone";
import { describeVectorStore } from "../../test/support/knowledge/vector-store.suite";

/**
 * On the testkit's `env` (the file's own database), each set up once per file:
 * - `db`: the registry's login role, which the Postgres store runs on;
 * - `pinecone`: a fake Pinecone of 4 dimensions (fake-pinecone.ts), closed after the file's last test.
 * Both are set up before the file's first test: the shared suite's tests (vector-store.suite.ts)
 * run vitest's own `test`, which names no fixture, and reach them through `suite()`.
 */
const test = engineTest
  .extend("db", { scope: "file" }, async ({ env }, { onCleanup }): Promise<Kysely<RegistryDb>> => {
    const db = serviceDb<RegistryDb>(env, "agent-registry");
    onCleanup(() => db.destroy());
    return db;
  })
  .extend("pinecone", { scope: "file" }, async ({}, { onCleanup }): Promise<FakePinecone> => {
    const pinecone = await startFakePinecone({ dimension: 4 });
    onCleanup(() => pinecone.close());
    return pinecone;
  });

let shared: { db: Kysely<RegistryDb>; pinecone: FakePinecone } | undefined;
test.beforeAll(async ({ db, pinecone }) => {
  shared = { db, pinecone };
});

/** The file's fixtures, for the shared suite's tests. */
function suite(): { db: Kysely<RegistryDb>; pinecone: FakePinecone } {
  if (!shared) throw new Error("the file's fixtures are not set up");
  return shared;
}

// Chunks reference their document, and it its knowledge base: the Postgres store needs both rows.
describeVectorStore("Postgres", {
  store: () => new PostgresVectorStore(suite().db),
  prepare: async (ws, kb, doc) => {
    await inWorkspace(suite().db, ws, async (tx) => {
      const exists = await tx.selectFrom("knowledge_bases").select("id").where("id", "=", kb).executeTakeFirst();
      if (!exists) await tx.insertInto("knowledge_bases").values({ id: kb, workspace_id: ws, name: "suite", vector_store: "postgres", embedding_model: "test", created_by: "suite" }).execute();
      await tx
        .insertInto("knowledge_documents")
        .values({ id: doc, workspace_id: ws, knowledge_base_id: kb, title: "suite", text: "suite", size_bytes: 5, status: "pending", chunk_count: null, error: null, created_by: "suite", indexed_at: null })
        .execute();
    });
  },
});

describe("Postgres specifics", () => {
  test("a query of another length than the stored chunks is embedding_dimension_mismatch, not an empty answer", async ({ db }) => {
    const store = new PostgresVectorStore(db);
    const ws = randomUUID();
    const kb = randomUUID();
    const doc = randomUUID();
    await inWorkspace(db, ws, async (tx) => {
      await tx.insertInto("knowledge_bases").values({ id: kb, workspace_id: ws, name: "dims", vector_store: "postgres", embedding_model: "test", created_by: "t" }).execute();
      await tx
        .insertInto("knowledge_documents")
        .values({ id: doc, workspace_id: ws, knowledge_base_id: kb, title: "t", text: "t", size_bytes: 1, status: "pending", chunk_count: null, error: null, created_by: "t", indexed_at: null })
        .execute();
    });
    await store.upsert(ws, [{ knowledgeBaseId: kb, documentId: doc, chunkIndex: 0, text: "hello", embedding: [0, 1, 0, 0] }]);
    expect(await store.query(ws, { knowledgeBaseIds: [kb], vector: [0, 1, 0, 0], topK: 3 })).toHaveLength(1);
    await expect(store.query(ws, { knowledgeBaseIds: [kb], vector: [0, 1, 0], topK: 3 })).rejects.toMatchObject({ code: "embedding_dimension_mismatch", details: { expected: "4", got: "3" } });
  });
});

// The index host is looked up through the control plane (`GET /indexes/galaxy`), as without PINECONE_INDEX_HOST.
describeVectorStore("Pinecone", {
  store: () => {
    const { pinecone } = suite();
    return new PineconeVectorStore({ maxRetries: 0, target: async () => ({ apiKey: pinecone.apiKey, indexName: pinecone.indexName, controllerHostUrl: pinecone.url }) });
  },
  prepare: async () => {},
});

describe("Pinecone specifics", () => {
  test("each workspace is its own namespace, and every call carries the key", async ({ pinecone }) => {
    const store = new PineconeVectorStore({ maxRetries: 0, target: async () => ({ apiKey: pinecone.apiKey, indexName: pinecone.indexName, indexHost: pinecone.url }) });
    const ws = randomUUID();
    const kb = randomUUID();
    const doc = randomUUID();
    await store.upsert(ws, [{ knowledgeBaseId: kb, documentId: doc, chunkIndex: 0, text: "hello", embedding: [0, 1, 0, 0] }]);
    expect([...(pinecone.namespaces.get(ws)?.keys() ?? [])]).toEqual([`${doc}:0`]);
    expect(pinecone.namespaces.get(ws)?.get(`${doc}:0`)?.metadata).toEqual({ knowledgeBaseId: kb, documentId: doc, chunkIndex: 0, text: "hello" });
    const query = pinecone.requests.filter((r) => r.path === "/query").length;
    await store.query(ws, { knowledgeBaseIds: [kb], vector: [0, 1, 0, 0], topK: 3 });
    const sent = pinecone.requests.filter((r) => r.path === "/query")[query];
    expect(sent?.body).toMatchObject({ namespace: ws, topK: 3, includeMetadata: true, filter: { knowledgeBaseId: { $in: [kb] } } });
    expect(pinecone.requests.every((r) => r.apiKey === pinecone.apiKey)).toBe(true);
  });

  test("a wrong key is refused by Pinecone, and the store says so", async ({ pinecone }) => {
    const store = new PineconeVectorStore({ maxRetries: 0, target: async () => ({ apiKey: "pc-wrong-key", indexName: pinecone.indexName, indexHost: pinecone.url }) });
    await expect(store.query(randomUUID(), { knowledgeBaseIds: [randomUUID()], vector: [1, 0, 0, 0], topK: 1 })).rejects.toThrow();
  });

  test("the client retries a 503 from Pinecone", async ({ pinecone }) => {
    const store = new PineconeVectorStore({ maxRetries: 2, target: async () => ({ apiKey: pinecone.apiKey, indexName: pinecone.indexName, indexHost: pinecone.url }) });
    pinecone.failNext(1);
    await expect(store.query(randomUUID(), { knowledgeBaseIds: [randomUUID()], vector: [1, 0, 0, 0], topK: 1 })).resolves.toEqual([]);
  });

  test("without a Pinecone key, the target's error is what the store throws", async () => {
    const store = new PineconeVectorStore({
      target: async () => {
        throw new VectorStoreNotConfiguredError();
      },
    });
    await expect(store.upsert(randomUUID(), [{ knowledgeBaseId: randomUUID(), documentId: randomUUID(), chunkIndex: 0, text: "x", embedding: [1, 0, 0, 0] }])).rejects.toBeInstanceOf(
      VectorStoreNotConfiguredError,
    );
  });
});
