import { describe, expect } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { inWorkspace } from "@galaxy/db";
import { opts, test } from "../../test/support/knowledge-fixtures";
import { TOPICS } from "../../test/support/knowledge/documents";

/** A workspace's own embeddings endpoint and vector store, from its credentials. */
describe("workspace credentials", () => {
  test("a workspace's own OpenAI key and base URL embed its documents and queries", async ({ credentials, devModel, workspaceModel, db, principal, createBase, addDocument, query, settled }) => {
    const member = await principal(uuidv7(), "member");
    credentials.set(`${member.ws}:openai`, { apiKey: "sk-workspace-own-7d1c", baseUrl: `${workspaceModel.url}/v1` });
    await workspaceModel.control({ reset: true, requireApiKey: "sk-workspace-own-7d1c" });
    const before = await devModel.settings();
    const base = await createBase(member);
    const doc = await addDocument(member, base.id);
    await settled(member, base.id, doc.id);
    expect((await query(member, base.id, "shipping to Europe", 1))[0]?.chunk).toContain("Rotterdam");
    const own = await workspaceModel.settings();
    expect(own.modelCalls).toBeGreaterThanOrEqual(2);
    expect(own.lastApiKeyLast4).toBe("7d1c");
    const after = await devModel.settings();
    expect(after.modelCalls).toBe(before.modelCalls);
    // Made with a real OpenAI key: OpenAI's model, not the dev model's, and that source for good.
    const row = await inWorkspace(db, member.ws, (tx) =>
      tx.selectFrom("knowledge_bases").select(["embedding_model", "embedding_source", "embedding_dimensions"]).where("id", "=", base.id).executeTakeFirstOrThrow(),
    );
    expect(row).toEqual({ embedding_model: "text-embedding-3-small", embedding_source: "workspace", embedding_dimensions: 1536 });
  });

  test("a knowledge base keeps the endpoint it was created with: setting or removing a workspace key later changes nothing silently", async ({ credentials, workspaceModel, principal, createBase, addDocument, query, settled }) => {
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
    const own = await workspaceModel.settings();
    expect(own.modelCalls).toBe(0);

    // Created with the workspace's key; the key is then removed: a clear error, never the platform's key.
    const ownBase = await createBase(member, "Own");
    credentials.delete(`${member.ws}:openai`);
    const orphan = await addDocument(member, ownBase.id, TOPICS.office, "Office");
    expect(await settled(member, ownBase.id, orphan.id)).toMatchObject({ status: "failed", error: expect.stringContaining("no longer set") });
    await expect(query(member, ownBase.id, "Lisbon")).rejects.toMatchObject({ code: "embedding_credential_missing" });
  });

  test("vectors of another length than the knowledge base's are an embedding_dimension_mismatch, not an empty search", async ({ db, gatewayBus, principal, service, createBase, addDocument, query, settled }) => {
    const member = await principal(uuidv7(), "member");
    const base = await createBase(member);
    await settled(member, base.id, (await addDocument(member, base.id, TOPICS.refunds, "Refunds")).id);
    const recorded = await inWorkspace(db, member.ws, (tx) => tx.selectFrom("knowledge_bases").select("embedding_dimensions").where("id", "=", base.id).executeTakeFirstOrThrow());
    expect(recorded.embedding_dimensions).toBe(512);
    // As if the endpoint behind it had changed to a model of 768 dimensions when the chunks were written.
    await inWorkspace(db, member.ws, (tx) => tx.updateTable("knowledge_bases").set({ embedding_dimensions: 768 }).where("id", "=", base.id).execute());
    await expect(query(member, base.id, "refund")).rejects.toMatchObject({ status: 409, code: "embedding_dimension_mismatch" });
    const { results } = await gatewayBus
      .request("registry.knowledge.search", { knowledgeBaseIds: [base.id], query: "refund" }, opts(await service(member.ws)))
      .catch((error: unknown) => ({ results: error }));
    expect(results).toMatchObject({ code: "embedding_dimension_mismatch" });
    const doc = await addDocument(member, base.id, TOPICS.office, "Office");
    expect(await settled(member, base.id, doc.id)).toMatchObject({ status: "failed", error: expect.stringContaining("768") });
  });

  test("a workspace base URL the outbound policy refuses (cloud metadata, an unlisted host) is never called", async ({ credentials, pinecone, principal, createBase, addDocument, query, settled }) => {
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

  test("a workspace with a Pinecone key keeps its knowledge bases in Pinecone, in its own namespace", async ({ credentials, pinecone, db, gatewayBus, principal, service, createBase, addDocument, query, settled }) => {
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
    const { results } = await gatewayBus.request("registry.knowledge.search", { knowledgeBaseIds: [base.id], query: "Lisbon office hours" }, opts(await service(member.ws)));
    expect(results[0]).toMatchObject({ knowledgeBaseId: base.id, documentId: doc.id });
    expect(results[0]?.chunk).toContain("Lisbon");
  });
});
