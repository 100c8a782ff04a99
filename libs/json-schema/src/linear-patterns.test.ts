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
      expect(() => compile(schema), JSON.stringify(schema)).toThrow(/cannot be matched in linear time/);
    }
  });

  test("patterns keep JavaScript's syntax and Unicode meaning", () => {
    const cases: Array<[string, string, boolean]> = [
      ["^\\p{L}+$", "café", true],
      ["^\\p{L}+$", "caf3", false],
      ["^.$", "😀", true],
      ["^\\u{1F600}$", "😀", true],
      ["^(?<year>\\d{4})-\\d{2}$", "2026-12", true],
      ["^[^/]+$", "a/b", false],
      ["^\\w+@example\\.com$", "ada@example.com", true],
      ["colou?r", "the color red", true],
    ];
    for (const [pattern, text, matches] of cases) expect(compile({ type: "string", pattern })(text), `${pattern} on ${text}`).toBe(matches);
  });

  test("patternProperties and propertyNames match keys by the same engine", () => {
    const validate = compile({ type: "object", patternProperties: { "^x-": { type: "number" } }, propertyNames: { pattern: "^[a-z-]+$" } });
    expect(validate({ "x-count": 1, name: "n" })).toBe(true);
    expect(validate({ "x-count": "one" })).toBe(false);
    expect(validate({ Name: 1 })).toBe(false);
  });

  test("an input checked against an agent's schema with a hostile pattern gets its 400 at once", () => {
    const schema = { type: "object", properties: { code: { type: "string", pattern: "^(\\w+\\s?)*$" } } };
    const attempt = () => checkAgentInput(new CompiledSchemas({ allErrors: true }), "agent:1", schema, { code: `${"word ".repeat(20_000)}!` }, "input", "input");
    expect(attempt).toThrow(ValidationError);
    expect(attempt).toThrow(/does not match the agent's inputSchema/);
  });

  test("every dialect uses it", () => {
    for (const dialect of [undefined, "https://json-schema.org/draft/2019-09/schema", "https://json-schema.org/draft/2020-12/schema"]) {
      const ajv = validatorFor(dialect);
      if (typeof ajv === "string") throw new Error(ajv);
      expect(() => ajv.compile({ type: "string", pattern: "(?=a)" }), String(dialect)).toThrow(/linear time/);
    }
  });
});
