import { describe, expect, test } from "vitest";
import { jsonSchemaProblem } from "./json-schema";

describe("jsonSchemaProblem", () => {
  test("a valid schema without $schema is checked as draft-07 and passes", () => {
    expect(jsonSchemaProblem({ type: "object", properties: { message: { type: "string" } }, required: ["message"] })).toBeNull();
  });

  test("an unknown type names the path and the rule it breaks", () => {
    expect(jsonSchemaProblem({ type: "object", properties: { n: { type: "integr" } } })).toMatch(/\/properties\/n\/type/);
  });

  test("a $ref that resolves nowhere is refused", () => {
    expect(jsonSchemaProblem({ $ref: "#/definitions/missing" })).toMatch(/can't resolve reference/);
  });

  test("a pattern that is not a regular expression is refused", () => {
    expect(jsonSchemaProblem({ type: "string", pattern: "(" })).toMatch(/regular expression|pattern/i);
  });

  test("a pattern that cannot be matched in linear time (lookahead, backreference) is refused, naming it", () => {
    expect(jsonSchemaProblem({ type: "object", properties: { password: { type: "string", pattern: "^(?=.*\\d).{8,}$" } } })).toMatch(/pattern "\^\(\?=\.\*\\\\d\)\.\{8,\}\$" is not supported by Galaxy's linear-time matching/);
    expect(jsonSchemaProblem({ type: "string", pattern: "^(a+)+$" })).toBeNull();
  });

  test("2019-09 and 2020-12 schemas are checked against their own dialect", () => {
    expect(jsonSchemaProblem({ $schema: "https://json-schema.org/draft/2020-12/schema", type: "array", prefixItems: [{ type: "string" }] })).toBeNull();
    expect(jsonSchemaProblem({ $schema: "https://json-schema.org/draft/2019-09/schema", type: "object", unevaluatedProperties: false })).toBeNull();
    expect(jsonSchemaProblem({ $schema: "https://json-schema.org/draft/2020-12/schema", prefixItems: "nope" })).not.toBeNull();
  });

  test("an unsupported $schema is refused with the dialects that are", () => {
    expect(jsonSchemaProblem({ $schema: "http://json-schema.org/draft-04/schema#", type: "object" })).toMatch(/\$schema must be one of/);
    expect(jsonSchemaProblem({ $schema: 42 })).toMatch(/\$schema must be one of/);
  });

  test("two schemas with the same $id are each accepted (no state is kept between checks)", () => {
    const schema = { $id: "https://example.com/input.json", type: "object" };
    expect(jsonSchemaProblem(schema)).toBeNull();
    expect(jsonSchemaProblem({ ...schema, required: ["a"] })).toBeNull();
  });
});
