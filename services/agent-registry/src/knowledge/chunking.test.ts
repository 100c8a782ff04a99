import { describe, expect, test } from "vitest";
import { chunkText, DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE } from "./chunking";

/** A text of `n` distinct words (`w0 w1 …`), so positions can be checked exactly. */
const wordsText = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`).join(" ");
const wordsOf = (chunk: string) => chunk.split(" ");

describe("chunkText", () => {
  test("a short text is one chunk, its whitespace collapsed", () => {
    expect(chunkText("  Galaxy runs\n\nagents\tfor teams.  ")).toEqual(["Galaxy runs agents for teams."]);
  });

  test("an empty or blank text has no chunks", () => {
    expect(chunkText("")).toEqual([]);
    expect(chunkText(" \n\t ")).toEqual([]);
  });

  test("chunks stay within the size and end on word boundaries", () => {
    const text = wordsText(1_000);
    const chunks = chunkText(text);
    expect(chunks.length).toBeGreaterThan(1);
    const words = new Set(text.split(" "));
    for (const chunk of chunks) {
      expect(chunk.length).toBeLessThanOrEqual(DEFAULT_CHUNK_SIZE);
      for (const word of wordsOf(chunk)) expect(words.has(word)).toBe(true);
    }
  });

  test("each chunk starts with about the last 200 characters of the one before", () => {
    const chunks = chunkText(wordsText(1_000));
    for (let i = 1; i < chunks.length; i++) {
      const previous = chunks[i - 1] ?? "";
      const current = chunks[i] ?? "";
      const firstWord = wordsOf(current)[0] ?? "";
      const overlapStart = wordsOf(previous).indexOf(firstWord);
      expect(overlapStart).toBeGreaterThan(0);
      const overlap = wordsOf(previous).slice(overlapStart).join(" ");
      expect(current.startsWith(overlap)).toBe(true);
      expect(overlap.length).toBeLessThanOrEqual(DEFAULT_CHUNK_OVERLAP);
      // Words here are 2 to 4 characters: the overlap falls short of 200 by less than one word.
      expect(overlap.length).toBeGreaterThan(DEFAULT_CHUNK_OVERLAP - 6);
    }
  });

  test("every word is in some chunk, in order, and the chunks cover the text end to end", () => {
    const text = wordsText(2_345);
    const chunks = chunkText(text);
    expect(wordsOf(chunks[0] ?? "")[0]).toBe("w0");
    expect(wordsOf(chunks.at(-1) ?? "").at(-1)).toBe("w2344");
    // Dropping each chunk's overlap with its predecessor gives the text back.
    const rebuilt: string[] = [...wordsOf(chunks[0] ?? "")];
    for (const chunk of chunks.slice(1)) {
      const words = wordsOf(chunk);
      const skip = words.indexOf(rebuilt.at(-1) ?? "") + 1;
      rebuilt.push(...words.slice(skip));
    }
    expect(rebuilt.join(" ")).toBe(text);
  });

  test("the same text gives the same chunks", () => {
    const text = wordsText(700);
    expect(chunkText(text)).toEqual(chunkText(text));
  });

  test("a word longer than a chunk is cut into chunk-sized pieces", () => {
    const long = "x".repeat(1_900);
    const chunks = chunkText(`before ${long} after`, { size: 800, overlap: 200 });
    expect(chunks.every((chunk) => chunk.length <= 800)).toBe(true);
    expect(chunks.join(" ").replaceAll(" ", "")).toContain("x".repeat(800));
    expect(chunks[0]?.startsWith("before")).toBe(true);
    expect(chunks.at(-1)?.endsWith("after")).toBe(true);
  });

  test("always moves forward, even when a single word fills the overlap", () => {
    const chunks = chunkText("aaaa bbbb cccc dddd", { size: 9, overlap: 8 });
    expect(chunks).toEqual(["aaaa bbbb", "bbbb cccc", "cccc dddd"]);
    expect(chunkText("aaaa bbbb cccc", { size: 4, overlap: 3 })).toEqual(["aaaa", "bbbb", "cccc"]);
  });

  test("refuses a nonsensical size or overlap", () => {
    expect(() => chunkText("x", { size: 0 })).toThrow(RangeError);
    expect(() => chunkText("x", { size: 10, overlap: 10 })).toThrow(RangeError);
    expect(() => chunkText("x", { size: 10, overlap: -1 })).toThrow(RangeError);
  });
});
