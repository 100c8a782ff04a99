import OpenAI from "openai";
import { describe, expect } from "vitest";
import { cosineSimilarity, embed } from "./embeddings";
import { devModelTest as test } from "../test/fixtures";


const norm = (vector: readonly number[]) => Math.hypot(...vector);

describe("embeddings over the openai client", () => {
  test("are deterministic, unit length and 512-dimensional by default", async ({ openai }) => {
    const first = await openai.embeddings.create({ model: "galaxy-dev-embed", input: "agents run tools", encoding_format: "float" });
    const second = await openai.embeddings.create({ model: "galaxy-dev-embed", input: "agents run tools", encoding_format: "float" });
    const vector = first.data[0]?.embedding ?? [];
    expect(vector).toHaveLength(512);
    expect(norm(vector)).toBeCloseTo(1, 5);
    expect(second.data[0]?.embedding).toEqual(vector);
    expect(vector).toEqual(embed("agents run tools"));
    expect(first.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
  });

  test("base64 (the client's default) decodes to exactly the float vectors", async ({ openai }) => {
    const input = ["The cat sat on the mat.", "Stock prices fell sharply on Tuesday."];
    const floats = await openai.embeddings.create({ model: "galaxy-dev-embed", input, encoding_format: "float" });
    const decoded = await openai.embeddings.create({ model: "galaxy-dev-embed", input });
    expect(decoded.data.map((item) => item.embedding)).toEqual(floats.data.map((item) => item.embedding));
    expect(decoded.data.map((item) => item.index)).toEqual([0, 1]);

    const raw = await openai.embeddings.create({ model: "galaxy-dev-embed", input: input[0] ?? "", encoding_format: "base64" });
    expect(typeof raw.data[0]?.embedding).toBe("string");
  });

  test("answers OpenAI's text-embedding-3-small too, 1536-dimensional by default like the real one", async ({ openai }) => {
    const response = await openai.embeddings.create({ model: "text-embedding-3-small", input: "agents run tools", encoding_format: "float" });
    expect(response.data[0]?.embedding).toHaveLength(1536);
    expect(response.data[0]?.embedding).toEqual(embed("agents run tools", 1536));
  });

  test("honours dimensions", async ({ openai }) => {
    const response = await openai.embeddings.create({ model: "galaxy-dev-embed", input: "short", dimensions: 256 });
    expect(response.data[0]?.embedding).toHaveLength(256);
    expect(norm(response.data[0]?.embedding ?? [])).toBeCloseTo(1, 5);
  });

  test("scores similar texts higher than dissimilar ones", async ({ openai }) => {
    const response = await openai.embeddings.create({
      model: "galaxy-dev-embed",
      input: ["the cat sat on the mat", "The cat sat on a mat!", "quarterly revenue grew in europe"],
    });
    const [cat, similar, other] = response.data.map((item) => item.embedding);
    if (!cat || !similar || !other) throw new Error("expected three embeddings");
    expect(cosineSimilarity(cat, similar)).toBeGreaterThan(0.8);
    expect(cosineSimilarity(cat, similar)).toBeGreaterThan(cosineSimilarity(cat, other) + 0.3);
  });

  test("rank the passage that shares a query's words first, whatever the common words", async ({ openai }) => {
    const passages = [
      "Our refund policy: customers may return any product within 30 days of delivery for a full refund to the original payment method.",
      "The office is open from nine to five on weekdays, and the support team answers the phone during those hours.",
      "Shipping to Europe takes five to seven business days; express delivery is available for an extra fee at checkout.",
      "Passwords must be at least twelve characters long and are rotated every ninety days by the security team.",
    ];
    const queries: Array<[string, number]> = [
      ["How do I get a refund for a product?", 0],
      ["When is the office open?", 1],
      ["how long does shipping to europe take", 2],
      ["what are the password rules", 3],
    ];
    for (const [query, expected] of queries) {
      const response = await openai.embeddings.create({ model: "galaxy-dev-embed", input: [query, ...passages], encoding_format: "float" });
      const [q, ...docs] = response.data.map((item) => item.embedding);
      const scores = docs.map((doc) => cosineSimilarity(q ?? [], doc));
      const best = scores.indexOf(Math.max(...scores));
      expect(best, `${query}: ${scores.map((x) => x.toFixed(3)).join(", ")}`).toBe(expected);
    }
  });

  test("ignore common words unless a text has nothing else", () => {
    expect(cosineSimilarity(embed("the refund of the order"), embed("refund order"))).toBeCloseTo(1, 5);
    expect(norm(embed("the of and"))).toBeCloseTo(1, 5);
    expect(embed("")).toEqual(new Array(512).fill(0));
  });

  test("rejects an empty input, an unknown model and token arrays", async ({ openai }) => {
    await expect(openai.embeddings.create({ model: "galaxy-dev-embed", input: "" })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    await expect(openai.embeddings.create({ model: "galaxy-dev-echo", input: "x" })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(openai.embeddings.create({ model: "galaxy-dev-embed", input: [1, 2, 3] })).rejects.toMatchObject({ status: 400, param: "input" });
  });
});
