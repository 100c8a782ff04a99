import { describe, expect } from "vitest";
import { z } from "zod";
import { ErrorBody, KnowledgeBase, KnowledgeDocument, KnowledgeQueryResult, Pagination } from "@galaxy/contracts";
import { galaxyTest, startGalaxyFirst } from "./fixtures";
import { api, dataOf, eventually } from "./harness";

/**
 * Knowledge bases through the public API, with every service running: a member creates a
 * knowledge base, adds a document (202, pending), the registry indexes it in the background
 * through the dev model's embeddings (OpenAI's protocol, or Gemini's through `@google/genai`),
 * and a query answers the right chunk first.
 */

const HANDBOOK = [
  "Refunds: a customer may return a product within thirty days of delivery for a full refund to the original payment method.",
  "Shipping: orders to Europe ship from the Rotterdam warehouse and arrive within five to seven business days. Express shipping costs extra.",
  "Security: passwords must be at least twelve characters long and are rotated every ninety days.",
  "Office hours: the support office in Lisbon is open from nine to five on weekdays.",
]
  .map((paragraph) => `${paragraph} ${paragraph} ${paragraph} ${paragraph}`)
  .join("\n\n");

const test = galaxyTest()
  .extend("signup", { scope: "file" }, async ({ signUp }) => (email: string) => signUp(email))
  .extend("alice", { scope: "file", auto: true }, async ({ signup }) => signup("alice@knowledge.example.com"));
startGalaxyFirst(test);

describe("a knowledge base, end to end", () => {
  const providers: Array<["openai" | "google", "google" | undefined]> = [
    ["openai", undefined],
    ["google", "google"],
  ];
  test.for(providers)("create (embedded by %s), add a document, wait until it is indexed, and query: the right chunk comes first", { timeout: 60_000 }, async ([provider, asked], { galaxy, signup }) => {
    const alice = await signup(`alice-${provider}@knowledge.example.com`);
    const bob = await signup(`bob-${provider}@knowledge.example.com`);
    const created = await api(galaxy, "POST", "/api/knowledge-bases", { token: alice.accessToken, body: { name: "Support handbook", ...(asked ? { embeddingProvider: asked } : {}) } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const base = dataOf(KnowledgeBase, created);
    expect(base).toMatchObject({ name: "Support handbook", workspaceId: alice.workspace.id, documentCount: 0, embeddingProvider: provider });

    const listed = z.object({ data: z.array(KnowledgeBase), pagination: Pagination }).parse((await api(galaxy, "GET", "/api/knowledge-bases", { token: alice.accessToken })).body);
    expect(listed.data.map((b) => b.id)).toEqual([base.id]);
    expect(dataOf(KnowledgeBase, await api(galaxy, "GET", `/api/knowledge-bases/${base.id}`, { token: alice.accessToken })).id).toBe(base.id);

    const accepted = await api(galaxy, "POST", `/api/knowledge-bases/${base.id}/documents`, { token: alice.accessToken, body: { title: "Handbook", text: HANDBOOK } });
    expect(accepted.status).toBe(202);
    const document = dataOf(KnowledgeDocument, accepted);
    expect(document).toMatchObject({ title: "Handbook", status: "pending", sizeBytes: Buffer.byteLength(HANDBOOK) });

    const indexed = await eventually(async () => {
      const page = z.object({ data: z.array(KnowledgeDocument) }).parse((await api(galaxy, "GET", `/api/knowledge-bases/${base.id}/documents`, { token: alice.accessToken })).body);
      const found = page.data.find((d) => d.id === document.id);
      return found && found.status !== "pending" ? found : undefined;
    }, 20_000, "the document indexed");
    expect(indexed).toMatchObject({ status: "indexed", error: null });
    expect(indexed.chunkCount).toBeGreaterThan(1);

    const answered = await api(galaxy, "POST", `/api/knowledge-bases/${base.id}/query`, { token: alice.accessToken, body: { query: "How long does shipping to Europe take?", topK: 3 } });
    expect(answered.status).toBe(200);
    const results = dataOf(z.array(KnowledgeQueryResult), answered);
    expect(results).toHaveLength(3);
    expect(results[0]).toMatchObject({ documentId: document.id });
    expect(results[0]?.chunk).toContain("Rotterdam");
    expect(results[0]?.score).toBeGreaterThan(results[2]?.score ?? 1);

    const filtered = z.object({ data: z.array(KnowledgeDocument) }).parse((await api(galaxy, "GET", `/api/knowledge-bases/${base.id}/documents?status=failed`, { token: alice.accessToken })).body);
    expect(filtered.data).toEqual([]);

    // The audit log records the three events, without the document's text.
    const audit = await eventually(async () => {
      const entries = z.object({ data: z.array(z.object({ action: z.string(), resourceId: z.string().nullable() }).passthrough()) }).parse((await api(galaxy, "GET", "/api/audit-logs", { token: alice.accessToken })).body).data;
      const actions = entries.map((e) => e.action);
      return ["knowledge_base.created", "document.added", "document.indexed"].every((a) => actions.includes(a)) ? entries : undefined;
    }, 15_000, "the knowledge audit entries");
    expect(JSON.stringify(audit)).not.toContain("Rotterdam");

    // Another workspace sees none of it.
    for (const [method, path, body] of [
      ["GET", `/api/knowledge-bases/${base.id}`, undefined],
      ["GET", `/api/knowledge-bases/${base.id}/documents`, undefined],
      ["POST", `/api/knowledge-bases/${base.id}/documents`, { title: "Sneaky", text: "hello" }],
      ["POST", `/api/knowledge-bases/${base.id}/query`, { query: "shipping" }],
    ] as const) {
      const response = await api(galaxy, method, path, { token: bob.accessToken, ...(body ? { body } : {}) });
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(ErrorBody.parse(response.body).code).toBe("knowledge_base_not_found");
    }
    const bobs = z.object({ data: z.array(KnowledgeBase) }).parse((await api(galaxy, "GET", "/api/knowledge-bases", { token: bob.accessToken })).body);
    expect(bobs.data).toEqual([]);
  });

  test("bad input is a clear 4xx", async ({ galaxy, alice }) => {
    const base = dataOf(KnowledgeBase, await api(galaxy, "POST", "/api/knowledge-bases", { token: alice.accessToken, body: { name: "Limits" } }));
    const tooLarge = await api(galaxy, "POST", `/api/knowledge-bases/${base.id}/documents`, { token: alice.accessToken, body: { title: "Big", text: "word ".repeat(110_000) } });
    expect(tooLarge.status).toBe(413);
    expect(ErrorBody.parse(tooLarge.body).code).toBe("document_too_large");
    const blank = await api(galaxy, "POST", `/api/knowledge-bases/${base.id}/documents`, { token: alice.accessToken, body: { title: "Blank", text: "   " } });
    expect(blank.status).toBe(400);
    const badTopK = await api(galaxy, "POST", `/api/knowledge-bases/${base.id}/query`, { token: alice.accessToken, body: { query: "x", topK: 0 } });
    expect(badTopK.status).toBe(400);
    const badId = await api(galaxy, "GET", "/api/knowledge-bases/not-a-uuid", { token: alice.accessToken });
    expect(badId.status).toBe(400);
    const missing = await api(galaxy, "POST", "/api/knowledge-bases", { token: alice.accessToken, body: {} });
    expect(missing.status).toBe(400);
    const unknownProvider = await api(galaxy, "POST", "/api/knowledge-bases", { token: alice.accessToken, body: { name: "Cohere", embeddingProvider: "cohere" } });
    expect(unknownProvider.status).toBe(400);
  });
});
