import { describe, expect, it } from "vitest";
import { countTokens, splitIntoPieces, tokenize, truncateToTokens } from "./tokens";
import { sampleArguments } from "./tool-arguments";

describe("tokenizer", () => {
  it("counts word runs and single punctuation marks", () => {
    expect(tokenize("Hello, world!")).toEqual(["Hello", ",", "world", "!"]);
    expect(countTokens("it's 3.14")).toBe(6);
    expect(countTokens("")).toBe(0);
    expect(countTokens("  \n ")).toBe(0);
  });

  it("treats accented and non-Latin letters as word characters", () => {
    expect(tokenize("café Ünïcode 日本語")).toEqual(["café", "Ünïcode", "日本語"]);
  });

  it("splits into pieces that concatenate back to the text, one per token", () => {
    for (const text of ["echo: Hello, world!", "  leading and trailing  ", "a\n\nb", "", "x"]) {
      const pieces = splitIntoPieces(text);
      expect(pieces.join("")).toBe(text);
      expect(pieces.filter((piece) => piece.trim() !== "")).toHaveLength(countTokens(text));
    }
  });

  it("cuts a run longer than 32 characters into tokens of 32, so a long word streams in small deltas", () => {
    const word = "z".repeat(100);
    expect(tokenize(word)).toEqual(["z".repeat(32), "z".repeat(32), "z".repeat(32), "zzzz"]);
    expect(splitIntoPieces(` ${word}`)).toEqual([` ${"z".repeat(32)}`, "z".repeat(32), "z".repeat(32), "zzzz"]);
  });

  it("truncates to a token budget keeping the whitespace between tokens", () => {
    expect(truncateToTokens("echo: one two three", 3)).toEqual({ text: "echo: one", truncated: true });
    expect(truncateToTokens("short", 3)).toEqual({ text: "short", truncated: false });
  });
});

describe("sample tool arguments", () => {
  it("gives {} when nothing is required or the schema is unreadable", () => {
    expect(sampleArguments({ type: "object", properties: { q: { type: "string" } } })).toEqual({});
    expect(sampleArguments(undefined)).toEqual({});
    expect(sampleArguments("not a schema")).toEqual({});
  });

  it("gives strings the user's message, or \"test\" without one", () => {
    const schema = { type: "object", properties: { q: { type: "string" } }, required: ["q"] };
    expect(sampleArguments(schema, "what is galaxy?")).toEqual({ q: "what is galaxy?" });
    expect(sampleArguments(schema)).toEqual({ q: "test" });
  });

  it("fills required properties by type, enum, const and nesting", () => {
    const schema = {
      type: "object",
      properties: {
        expression: { type: "string" },
        count: { type: "integer" },
        ratio: { type: "number" },
        flag: { type: "boolean" },
        tags: { type: "array", items: { type: "string" } },
        unit: { type: "string", enum: ["celsius", "fahrenheit"] },
        kind: { const: "fixed" },
        maybe: { type: ["null", "number"] },
        nested: { type: "object", properties: { id: { type: "string" }, note: { type: "string" } }, required: ["id"] },
        optional: { type: "string" },
      },
      required: ["expression", "count", "ratio", "flag", "tags", "unit", "kind", "maybe", "nested"],
    };
    expect(sampleArguments(schema, "2 + 3")).toEqual({
      expression: "2 + 3",
      count: 1,
      ratio: 1,
      flag: true,
      tags: [],
      unit: "celsius",
      kind: "fixed",
      maybe: 1,
      nested: { id: "2 + 3" },
    });
  });
});
