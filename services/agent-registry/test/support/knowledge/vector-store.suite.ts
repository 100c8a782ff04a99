import { randomUUID } from "node:crypto";
import { describe, expect, test } from "vitest";
import type { ChunkRecord, VectorStore } from "../../../src/knowledge/vector-store";

/** What a store under test needs around it. */
export interface VectorStoreFixture {
  store: () => VectorStore;
  /** Creates whatever must exist before chunks of this document can be stored (rows the chunks reference). */
  prepare: (workspaceId: string, knowledgeBaseId: string, documentId: string) => Promise<void>;
}

/**
 * The behaviour every `VectorStore` must have, run against each implementation
 * (`vector-store.int.test.ts`): ranking by cosine similarity, `topK`, filtering by knowledge
 * base, isolation between workspaces, and upserts that replace.
 */
export function describeVectorStore(name: string, fixture: VectorStoreFixture): void {
  describe(`${name} vector store`, () => {
    const chunk = (knowledgeBaseId: string, documentId: string, chunkIndex: number, embedding: number[], text = `chunk ${chunkIndex}`): ChunkRecord => ({
      knowledgeBaseId,
      documentId,
      chunkIndex,
      text,
      embedding,
    });

    async function seeded() {
      const ws = randomUUID();
      const kb = randomUUID();
      const doc = randomUUID();
      await fixture.prepare(ws, kb, doc);
      await fixture.store().upsert(ws, [
        chunk(kb, doc, 0, [1, 0, 0, 0], "about cats"),
        chunk(kb, doc, 1, [0.6, 0.8, 0, 0], "cats and dogs"),
        chunk(kb, doc, 2, [0, 0, 1, 0], "about taxes"),
        chunk(kb, doc, 3, [-1, 0, 0, 0], "the opposite of cats"),
      ]);
      return { ws, kb, doc };
    }

    test("answers the closest chunks first, scored by cosine similarity", async () => {
      const { ws, kb, doc } = await seeded();
      const matches = await fixture.store().query(ws, { knowledgeBaseIds: [kb], vector: [2, 0, 0, 0], topK: 4 });
      expect(matches.map((m) => m.text)).toEqual(["about cats", "cats and dogs", "about taxes", "the opposite of cats"]);
      expect(matches[0]).toMatchObject({ knowledgeBaseId: kb, documentId: doc, chunkIndex: 0 });
      expect(matches.map((m) => m.score)).toEqual([expect.closeTo(1, 5), expect.closeTo(0.6, 5), expect.closeTo(0, 5), expect.closeTo(-1, 5)]);
    });

    test("answers at most topK chunks", async () => {
      const { ws, kb } = await seeded();
      const matches = await fixture.store().query(ws, { knowledgeBaseIds: [kb], vector: [0, 1, 0, 0], topK: 2 });
      expect(matches.map((m) => m.text)).toEqual(["cats and dogs", expect.any(String)]);
    });

    test("answers only from the knowledge bases asked for", async () => {
      const { ws, kb } = await seeded();
      const other = randomUUID();
      const otherDoc = randomUUID();
      await fixture.prepare(ws, other, otherDoc);
      await fixture.store().upsert(ws, [chunk(other, otherDoc, 0, [1, 0, 0, 0], "cats, elsewhere")]);
      const onlyFirst = await fixture.store().query(ws, { knowledgeBaseIds: [kb], vector: [1, 0, 0, 0], topK: 10 });
      expect(onlyFirst.map((m) => m.text)).not.toContain("cats, elsewhere");
      const both = await fixture.store().query(ws, { knowledgeBaseIds: [kb, other], vector: [1, 0, 0, 0], topK: 2 });
      expect(both.map((m) => m.text).sort()).toEqual(["about cats", "cats, elsewhere"]);
      expect(await fixture.store().query(ws, { knowledgeBaseIds: [], vector: [1, 0, 0, 0], topK: 5 })).toEqual([]);
    });

    test("never answers with another workspace's chunks, even for the same knowledge base id", async () => {
      const { kb } = await seeded();
      const stranger = randomUUID();
      expect(await fixture.store().query(stranger, { knowledgeBaseIds: [kb], vector: [1, 0, 0, 0], topK: 10 })).toEqual([]);
    });

    test("storing a chunk again replaces it", async () => {
      const { ws, kb, doc } = await seeded();
      await fixture.store().upsert(ws, [chunk(kb, doc, 2, [1, 0, 0, 0], "about taxes, rewritten about cats")]);
      const matches = await fixture.store().query(ws, { knowledgeBaseIds: [kb], vector: [1, 0, 0, 0], topK: 10 });
      expect(matches).toHaveLength(4);
      expect(matches.filter((m) => m.chunkIndex === 2).map((m) => m.text)).toEqual(["about taxes, rewritten about cats"]);
      expect(matches[0]?.score).toBeCloseTo(1, 5);
    });
  });
}
