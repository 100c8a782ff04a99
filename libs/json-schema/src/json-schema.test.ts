import { describe, expect, test } from "vitest";
import { CompiledSchemas, describeErrors, fieldProblems, MAX_FIELD_PROBLEMS, validatorFor } from "./index";

describe("validatorFor", () => {
  test("picks the dialect $schema names, draft-07 without one, and refuses others", () => {
    const prefixItems = { type: "array", prefixItems: [{ type: "number" }], items: false };
    const v2020 = validatorFor("https://json-schema.org/draft/2020-12/schema");
    if (typeof v2020 === "string") throw new Error(v2020);
    expect(v2020.validate(prefixItems, [1, 2])).toBe(false);
    const v07 = validatorFor(undefined);
    if (typeof v07 === "string") throw new Error(v07);
    expect(v07.validate({ type: "string" }, "x")).toBe(true);
    expect(validatorFor("http://json-schema.org/draft-04/schema#")).toMatch(/^\$schema must be one of/);
  });
});

describe("CompiledSchemas", () => {
  test("compiles once per key, reports every error when asked, and throws for an unsupported dialect", () => {
    const schemas = new CompiledSchemas({ allErrors: true });
    const schema = { type: "object", properties: { a: { type: "string" }, b: { type: "number" } }, required: ["a", "b"] };
    const validate = schemas.get("k", schema);
    expect(schemas.get("k", schema)).toBe(validate);
    expect(validate({})).toBe(false);
    expect(validate.errors).toHaveLength(2);
    expect(describeErrors(validate.errors, "bad")).toContain("(root) must have required property 'a'");
    expect(() => schemas.get("old", { $schema: "http://json-schema.org/draft-04/schema#" })).toThrow(/\$schema must be one of/);
  });

  test("two schemas reusing an $id do not collide", () => {
    const schemas = new CompiledSchemas();
    expect(schemas.get("one", { $id: "https://example.com/s", type: "string" })("x")).toBe(true);
    expect(schemas.get("two", { $id: "https://example.com/s", type: "number" })(1)).toBe(true);
  });
});

describe("fieldProblems", () => {
  test("names each bad field under its root, a missing property too, and at most the first 20", () => {
    const validate = new CompiledSchemas({ allErrors: true }).get("items", { type: "object", properties: { items: { type: "array", items: { type: "integer" } } }, required: ["items", "name"] });
    expect(validate({ items: [1, "two"] })).toBe(false);
    expect(fieldProblems(validate.errors, "body")).toEqual({ "body.name": "must have required property 'name'", "body.items.1": "must be integer" });
    expect(validate({ name: "x", items: Array.from({ length: 500 }, () => "bad") })).toBe(false);
    const many = fieldProblems(validate.errors, "input");
    expect(Object.keys(many)).toHaveLength(MAX_FIELD_PROBLEMS);
    expect(Object.keys(many)[0]).toBe("input.items.0");
  });
});
