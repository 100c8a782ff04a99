import { randomUUID } from "node:crypto";
import { describe, expect } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { inWorkspace, sql } from "@galaxy/db";
import { opts, test } from "../../test/support/knowledge-fixtures";
import { TOPICS } from "../../test/support/knowledge/documents";

/** Who may read what: the execution worker's search, and one workspace never seeing another's. */
describe("registry.knowledge.search (the execution worker's)", () => {
  test("searches the asked knowledge bases of the claim's workspace; unknown and foreign ids are simply absent", async ({ gatewayBus, principal, service, createBase, addDocument, settled, outbox }) => {
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
    const { results } = await gatewayBus.request("registry.knowledge.search", { knowledgeBaseIds: [first.id, second.id, foreign.id, randomUUID()], query: "shipping to Europe", topK: 10 }, opts(worker));
    expect(results.map((r) => r.knowledgeBaseId)).toEqual([second.id, first.id]);
    expect(results[0]).toMatchObject({ documentId: docs[1]?.id, chunkIndex: 0, chunk: TOPICS.shipping });
    expect(results.every((r) => r.knowledgeBaseId !== foreign.id)).toBe(true);
    // Not a person's lookup: no incident is reported for the foreign id.
    expect(await outbox(member.ws, "security.cross_workspace_attempt")).toEqual([]);

    const none = await gatewayBus.request("registry.knowledge.search", { knowledgeBaseIds: [randomUUID()], query: "anything" }, opts(worker));
    expect(none).toEqual({ results: [] });
    await expect(gatewayBus.request("registry.knowledge.search", { knowledgeBaseIds: [], query: "x" }, opts(worker))).rejects.toMatchObject({ status: 400 });
  });
});

describe("isolation between workspaces", () => {
  test("another workspace's knowledge base is a 404 on every lookup, and each attempt is a security incident", async ({ db, gatewayBus, principal, createBase, addDocument, documents, query, outbox }) => {
    const owner = await principal(uuidv7(), "member");
    const base = await createBase(owner);
    const outsider = await principal(uuidv7(), "owner");
    const attempts: Array<[string, () => Promise<unknown>]> = [
      ["knowledge_bases.get", () => gatewayBus.request("registry.knowledge_bases.get", { id: base.id }, opts(outsider))],
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
    await expect(gatewayBus.request("registry.knowledge_bases.get", { id: randomUUID() }, opts(outsider))).rejects.toMatchObject({ status: 404 });
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
