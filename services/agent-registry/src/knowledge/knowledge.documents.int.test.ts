import { describe, expect } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { DOCUMENT_MAX_BYTES } from "@galaxy/contracts";
import { inWorkspace, sql } from "@galaxy/db";
import { eventually, opts, test } from "../../test/support/knowledge-fixtures";
import { handbook, TOPICS } from "../../test/support/knowledge/documents";

/** Knowledge bases and their documents: added, indexed into chunks, queried; and the sweep of documents left pending. */
describe("knowledge bases", () => {
  test("a member creates one; viewers read and list it; its creation is an event", async ({ db, gatewayBus, principal, createBase, outbox }) => {
    const member = await principal(uuidv7(), "member");
    const viewer = await principal(member.ws, "viewer");
    const base = await createBase(member, "  Support handbook ");
    expect(base).toEqual({ id: expect.any(String), workspaceId: member.ws, name: "Support handbook", embeddingProvider: "openai", documentCount: 0, createdBy: member.sub, createdAt: expect.any(String) });
    expect(await gatewayBus.request("registry.knowledge_bases.get", { id: base.id }, opts(viewer))).toEqual(base);
    const page = await gatewayBus.request("registry.knowledge_bases.list", {}, opts(viewer));
    expect(page).toEqual({ items: [base], pagination: { total: 1, limit: 20, offset: 0, hasMore: false } });
    const events = await outbox(member.ws, "knowledge_base.created");
    expect(events).toHaveLength(1);
    expect(events[0]?.payload).toMatchObject({ type: "knowledge_base.created", actor: { type: "user", id: member.sub }, data: { knowledgeBase: base } });
    // Without a Pinecone key, the vectors live in Postgres, embedded by the dev model.
    const row = await inWorkspace(db, member.ws, (tx) => tx.selectFrom("knowledge_bases").select(["vector_store", "embedding_model"]).where("id", "=", base.id).executeTakeFirstOrThrow());
    expect(row).toEqual({ vector_store: "postgres", embedding_model: "galaxy-dev-embed" });
  });

  test("viewers may not create knowledge bases or add documents", async ({ principal, createBase, addDocument, documents }) => {
    const member = await principal(uuidv7(), "member");
    const viewer = await principal(member.ws, "viewer");
    await expect(createBase(viewer)).rejects.toMatchObject({ status: 403, code: "forbidden" });
    const base = await createBase(member);
    await expect(addDocument(viewer, base.id)).rejects.toMatchObject({ status: 403, code: "forbidden" });
    expect((await documents(member, base.id)).items).toEqual([]);
  });

  test("a blank name is a 400", async ({ principal, createBase }) => {
    const member = await principal(uuidv7(), "member");
    await expect(createBase(member, "   ")).rejects.toMatchObject({ status: 400, code: "validation_failed" });
  });
});

describe("documents", () => {
  test("are accepted as pending, then chunked, embedded and indexed in the background", async ({ db, gatewayBus, principal, createBase, addDocument, settled, outbox }) => {
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
    expect((await gatewayBus.request("registry.knowledge_bases.get", { id: base.id }, opts(member))).documentCount).toBe(1);

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

  test("a query ranks the chunk that shares its words first", async ({ principal, createBase, addDocument, query, settled }) => {
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

  test("a document over 512 KiB is a 413 document_too_large, and nothing is stored", async ({ principal, createBase, addDocument, documents, settled, outbox }) => {
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

  test("a blank text or title is a 400", async ({ principal, createBase, addDocument }) => {
    const member = await principal(uuidv7(), "member");
    const base = await createBase(member);
    await expect(addDocument(member, base.id, "   \n ")).rejects.toMatchObject({ status: 400, details: { text: expect.any(String) } });
    await expect(addDocument(member, base.id, "text", " ")).rejects.toMatchObject({ status: 400, details: { title: expect.any(String) } });
  });

  test("indexing is idempotent: a redelivered document.added changes nothing, a retry after a crash rewrites the same chunks", async ({ db, registry, added, principal, createBase, addDocument, documents, settled, outbox }) => {
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

  test("a provider that fails for a while is retried; one that refuses marks the document failed", async ({ devModel, principal, createBase, addDocument, documents, settled, outbox }) => {
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


describe("documents left pending", () => {
  test("the sweep marks failed those pending long after they were added (every delivery lost), with their event; recent ones wait", async ({ db, registry, principal, createBase, documents, outbox }) => {
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
