import { describe, expect, test } from "vitest";
import { ValidationError } from "@galaxy/contracts";
import { checkAgentInput, CompiledSchemas, validatorFor } from "./index";

/** `schema` compiled as an agent's schemas are. */
function compile(schema: Record<string, unknown>) {
  return new CompiledSchemas({ allErrors: true }).get("schema", schema);
}

describe("patterns of tenants' schemas", () => {
  test("a pattern that backtracks without end in JavaScript's engine is answered at once, rightly", () => {
    const validate = compile({ type: "string", pattern: "^(a+)+$" });
    // JavaScript's own engine takes about 2^n steps here: hours for this input.
    expect(validate(`${"a".repeat(100_000)}!`)).toBe(false);
    expect(validate("a".repeat(100_000))).toBe(true);
  });

  test("every keyword that takes a pattern uses the linear engine: what it cannot run is refused at compile time", () => {
    // JavaScript's engine runs lookaheads and backreferences; RE2 does not, so a refusal shows which engine compiled it.
    for (const schema of [
      { type: "string", pattern: "^(?=.*\\d)" },
      { type: "object", patternProperties: { "^(a)\\1$": { type: "string" } } },
      { type: "object", propertyNames: { pattern: "^(?!x)" } },
    ]) {
      expect(() => compile(schema), JSON.stringify(schema)).toThrow(/is not supported by Galaxy's linear-time matching/);
    }
  });

  test("patterns keep JavaScript's syntax and meaning: Unicode, white space, any character, line terminators", () => {
    const cases: Array<[string, string, boolean]> = [
      ["^\\p{L}+$", "café", true],
      ["^\\p{L}+$", "caf3", false],
      ["^.$", "😀", true],
      ["^\\u{1F600}$", "😀", true],
      ["^(?<year>\\d{4})-\\d{2}$", "2026-12", true],
      ["^[^/]+$", "a/b", false],
      ["^\\w+@example\\.com$", "ada@example.com", true],
      ["colou?r", "the color red", true],
      ["^a\\sb$", "a\u00a0b", true],
      ["^a\\sb$", "a\u2003b", true],
      ["^a\\sb$", "a\ufeffb", true],
      ["^a\\sb$", "a\tb", true],
      ["^a\\Sb$", "a\u00a0b", false],
      ["^a\\Sb$", "axb", true],
      ["^a[x\\s]b$", "a\u3000b", true],
      ["^a.b$", "a\rb", false],
      ["^a.b$", "a\u2028b", false],
      ["^a.b$", "a\nb", false],
      ["^a.b$", "a😀b", true],
      ["^a[.]b$", "a.b", true],
      ["^a[.]b$", "axb", false],
      ["^a\\.b$", "axb", false],
      ["^a[^]b$", "a\nb", true],
      ["^\\p{Letter}+$", "Ωmega", true],
      ["^\\p{General_Category=Decimal_Number}+$", "٣4", true],
      ["^\\p{Script=Greek}+$", "Ωμέγα", true],
      ["^\\p{Script=Greek}+$", "omega", false],
      ["^\\P{Lu}+$", "abc", true],
      ["^\\p{digit}\\p{punct}$", "7!", true],
      ["^\\uD83D\\uDE00$", "😀", true],
      ["^\\uD83D\\uDE00{2}$", "😀😀", true],
      ["^[\\uD83D\\uDE00]$", "\uD83D", false],
      ["^[[:alpha:][a]$", "b", false],
      ["^[[:alpha:][a]$", "[a", true],
      ["^[\\b]$", "\b", true],
      ["^(?<café>a)b$", "ab", true],
      ["^a[]$", "a", false],
    ];
    for (const [pattern, text, matches] of cases) {
      expect(new RegExp(pattern, "u").test(text), `JavaScript: ${pattern} on ${JSON.stringify(text)}`).toBe(matches);
      expect(compile({ type: "string", pattern })(text), `${pattern} on ${JSON.stringify(text)}`).toBe(matches);
    }
  });

  test("what has no linear-time meaning is refused with what it uses; what is not JavaScript is refused as such", () => {
    expect(() => compile({ type: "string", pattern: "^(?<x>a)\\k<x>$" })).toThrow(/uses a backreference \(\\k<name>\)/);
    expect(() => compile({ type: "string", pattern: "^[a\\S]$" })).toThrow(/uses \\S inside a character class/);
    expect(() => compile({ type: "string", pattern: "^\\p{Script_Extensions=Greek}$" })).toThrow(/uses the property/);
    for (const pattern of ["^(?i)abc$", "^\\Qa.b\\E$", "^\\Aabc\\z", "a{,2}"]) {
      expect(() => compile({ type: "string", pattern }), pattern).toThrow(/is not a valid regular expression/);
    }
  });

  test("patternProperties and propertyNames match keys by the same engine", () => {
    const validate = compile({ type: "object", patternProperties: { "^x-": { type: "number" } }, propertyNames: { pattern: "^[a-z-]+$" } });
    expect(validate({ "x-count": 1, name: "n" })).toBe(true);
    expect(validate({ "x-count": "one" })).toBe(false);
    expect(validate({ Name: 1 })).toBe(false);
  });

  test("an input checked against an agent's schema with a hostile pattern gets its 400 at once", () => {
    const schema = { type: "object", properties: { code: { type: "string", pattern: "^(\\w+\\s?)*$" } } };
    const attempt = () => checkAgentInput({ agentId: "hostile-agent", version: 1, schema }, { code: `${"word ".repeat(20_000)}!` }, "input", "input");
    expect(attempt).toThrow(ValidationError);
    expect(attempt).toThrow(/does not match the agent's inputSchema/);
  });

  test("every dialect uses it", () => {
    for (const dialect of [undefined, "https://json-schema.org/draft/2019-09/schema", "https://json-schema.org/draft/2020-12/schema"]) {
      const ajv = validatorFor(dialect);
      if (typeof ajv === "string") throw new Error(ajv);
      expect(() => ajv.compile({ type: "string", pattern: "(?=a)" }), String(dialect)).toThrow(/linear-time matching/);
      expect(ajv.validate({ type: "string", pattern: "^a\\sb$" }, "a\u00a0b"), String(dialect)).toBe(true);
    }
  });
});
