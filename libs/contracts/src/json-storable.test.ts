import { describe, expect, test } from "vitest";
import { findUnstorable, MAX_JSON_DEPTH } from "./json-storable";

function nested(depth: number, leaf: unknown = 1): unknown {
  let value = leaf;
  for (let i = 0; i < depth; i += 1) value = i % 2 === 0 ? [value] : { a: value };
  return value;
}

describe("findUnstorable", () => {
  test("ordinary JSON is storable, whatever its shape", () => {
    const typical = JSON.parse(JSON.stringify({ event: "order.paid", id: "ord_1", amount: 12.5, tags: ["a", "ü", "😀"], nested: { ok: true, none: null }, list: [[1], [2, { x: "y" }]] }));
    expect(findUnstorable(typical)).toBeUndefined();
    for (const scalar of ["", "text", 0, -1.5, 1e308, true, false, null]) expect(findUnstorable(scalar)).toBeUndefined();
  });

  test("a NUL character anywhere in a string is refused, with the path to it", () => {
    expect(findUnstorable("a\u0000b")).toEqual({ path: [], reason: "nul_character" });
    expect(findUnstorable({ a: [{ b: "ok" }, { c: "x\u0000" }] })).toEqual({ path: ["a", 1, "c"], reason: "nul_character" });
    expect(findUnstorable(JSON.parse('{"text":"\\u0000"}'))).toEqual({ path: ["text"], reason: "nul_character" });
  });

  test("a NUL character or a lone surrogate in a key is refused too", () => {
    expect(findUnstorable({ ok: { "k\u0000": 1 } })).toEqual({ path: ["ok", "k\u0000"], reason: "nul_character" });
    expect(findUnstorable(JSON.parse('{"\\udc00":1}'))).toEqual({ path: ["\udc00"], reason: "lone_surrogate" });
  });

  test("a lone surrogate, high or low, is refused; a proper pair is not", () => {
    expect(findUnstorable(JSON.parse('["\\ud800"]'))).toEqual({ path: [0], reason: "lone_surrogate" });
    expect(findUnstorable("x\udfffy")).toEqual({ path: [], reason: "lone_surrogate" });
    expect(findUnstorable("\ud800\ud800\udc00")).toEqual({ path: [], reason: "lone_surrogate" });
    expect(findUnstorable("\ud83d\ude00 and \ud800\udc00")).toBeUndefined();
  });

  test("a number JSON cannot write (1e400 parses to Infinity) is refused", () => {
    expect(findUnstorable(JSON.parse('{"n":1e400}'))).toEqual({ path: ["n"], reason: "number_out_of_range" });
    expect(findUnstorable([Number.NaN])).toEqual({ path: [0], reason: "number_out_of_range" });
    expect(findUnstorable(JSON.parse("[1e-400, 123456789012345678901234567890]"))).toBeUndefined();
  });

  test(`nesting up to ${MAX_JSON_DEPTH} levels is storable, one more is not`, () => {
    expect(findUnstorable(nested(MAX_JSON_DEPTH))).toBeUndefined();
    expect(findUnstorable(nested(MAX_JSON_DEPTH + 1))?.reason).toBe("too_deep");
    expect(findUnstorable(nested(3), 2)?.reason).toBe("too_deep");
  });

  test("5,000 and 1,000,000 levels deep are refused without overflowing the stack", () => {
    const text = `${"[".repeat(5000)}${"]".repeat(5000)}`;
    expect(findUnstorable(JSON.parse(text))?.reason).toBe("too_deep");
    const deep = nested(1_000_000);
    const found = findUnstorable(deep);
    expect(found?.reason).toBe("too_deep");
    expect(found?.path).toHaveLength(MAX_JSON_DEPTH);
  });

  test("a cycle (only possible in memory, never from JSON) ends at the depth limit", () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(findUnstorable(cycle)?.reason).toBe("too_deep");
  });

  test("values JSON has no form for (a bigint, a function) are refused", () => {
    expect(findUnstorable({ n: 10n })).toEqual({ path: ["n"], reason: "not_json" });
    expect(findUnstorable([() => 1])).toEqual({ path: [0], reason: "not_json" });
  });
});
