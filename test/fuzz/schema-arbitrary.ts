import fc from "fast-check";
import type { JsonSchema } from "./openapi-document";

/**
 * Values that mostly satisfy a JSON Schema of the document ("valid-ish"): the right types,
 * enums and formats, lengths and bounds respected, and now and then a value just outside them,
 * so that requests reach the services and not only the validator. Strings are kept short.
 */
export function arbitraryOf(schema: JsonSchema, depth = 0): fc.Arbitrary<unknown> {
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.oneof({ arbitrary: fc.constantFrom(...schema.enum), weight: 9 }, { arbitrary: fc.string({ maxLength: 8 }), weight: 1 });
  const choices = schema.oneOf ?? schema.anyOf;
  if (choices && choices.length > 0) return fc.oneof(...choices.map((choice) => arbitraryOf(choice, depth + 1)));
  if (schema.allOf?.[0]) return arbitraryOf(schema.allOf[0], depth + 1);
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  if (types.length > 1) return fc.oneof(...types.map((type) => arbitraryOf({ ...schema, type }, depth + 1)));
  switch (types[0]) {
    case "string":
      return stringOf(schema);
    case "integer":
      return numberOf(schema, true);
    case "number":
      return numberOf(schema, false);
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array": {
      const items = schema.items ? arbitraryOf(schema.items, depth + 1) : fc.jsonValue({ maxDepth: 1 });
      return fc.array(items, { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 3, Math.max(3, schema.minItems ?? 0)) });
    }
    case "object":
      return objectOf(schema, depth);
    default:
      // `{}`: anything (an agent's `input`, a JSON Schema document).
      return fc.jsonValue({ maxDepth: 2 });
  }
}

function objectOf(schema: JsonSchema, depth: number): fc.Arbitrary<unknown> {
  const properties = schema.properties ?? {};
  if (Object.keys(properties).length === 0 || depth > 6) return fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 });
  const record: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [name, property] of Object.entries(properties)) record[name] = arbitraryOf(property, depth + 1);
  const required = schema.required ?? [];
  // Mostly every required property; sometimes one missing, to reach the validator's refusal.
  return fc.oneof(
    { arbitrary: fc.record(record, { requiredKeys: required.filter((key) => key in record) }), weight: 9 },
    { arbitrary: fc.record(record, { requiredKeys: [] }), weight: 1 },
  );
}

const FORMATS: Record<string, fc.Arbitrary<string>> = {
  uuid: fc.uuid(),
  email: fc.oneof(fc.emailAddress(), fc.constantFrom("fuzz@example.com", "no-at-sign", "a@b")),
  uri: fc.oneof(fc.webUrl(), fc.constantFrom("http://127.0.0.1:1/hook", "https://example.com/x", "not a url", "file:///etc/passwd")),
  "date-time": fc.oneof(fc.date({ min: new Date("2000-01-01"), max: new Date("2100-01-01"), noInvalidDate: true }).map((d) => d.toISOString()), fc.constantFrom("yesterday", "2026-13-45T99:99:99Z")),
};

function stringOf(schema: JsonSchema): fc.Arbitrary<string> {
  const format = schema.format ? FORMATS[schema.format] : undefined;
  if (format) return format;
  const minLength = schema.minLength ?? 0;
  const maxLength = Math.max(minLength, Math.min(schema.maxLength ?? 24, minLength + 24));
  if (schema.pattern) {
    try {
      const pattern = new RegExp(schema.pattern);
      return fc.stringMatching(pattern).filter((s) => s.length >= minLength && s.length <= (schema.maxLength ?? Number.MAX_SAFE_INTEGER));
    } catch {
      // A pattern fast-check cannot read: plain strings, which the validator mostly refuses.
    }
  }
  return fc.string({ minLength, maxLength, unit: fc.oneof({ arbitrary: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789 -_"), weight: 8 }, { arbitrary: fc.string({ minLength: 1, maxLength: 1, unit: "binary" }), weight: 1 }) });
}

function numberOf(schema: JsonSchema, integer: boolean): fc.Arbitrary<number> {
  const min = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : -1_000_000);
  const max = Math.min(schema.maximum ?? (schema.exclusiveMaximum !== undefined ? schema.exclusiveMaximum - 1 : 1_000_000), Number.MAX_SAFE_INTEGER);
  const within = integer ? fc.integer({ min: Math.ceil(min), max: Math.floor(max) }) : fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
  // Now and then the bound itself, one past it, or another type's edge.
  return fc.oneof({ arbitrary: within, weight: 8 }, { arbitrary: fc.constantFrom(min, max, min - 1, max + 1, 0.5, -0), weight: 2 });
}
