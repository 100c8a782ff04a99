import fc from "fast-check";

/** JSON text written as is into a body: what `JSON.stringify` cannot produce (1e400, 5,000-deep nesting). */
export class RawJson {
  constructor(readonly text: string) {}
}

/** Writes a generated value as JSON text, `RawJson` pieces verbatim (lone surrogates come out escaped, `\ud800`). */
export function toJsonText(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (Array.isArray(value)) return `[${value.map(toJsonText).join(",")}]`;
  if (value !== null && typeof value === "object") return `{${Object.entries(value).map(([key, item]) => `${JSON.stringify(key)}:${toJsonText(item)}`).join(",")}}`;
  return JSON.stringify(value) ?? "null";
}

/** Values Postgres `jsonb` cannot hold, or too deep: a body holding one must be a 400 `invalid_value`. */
export const unstorableLeaf: fc.Arbitrary<unknown> = fc.constantFrom<unknown>(
  "\u0000",
  "before\u0000after",
  "\ud800",
  "lone low \udfff",
  "\ud83d",
  new RawJson("1e400"),
  new RawJson("-1e400"),
  new RawJson(`${"[".repeat(5000)}${"]".repeat(5000)}`),
  new RawJson(`${'{"a":'.repeat(5000)}1${"}".repeat(5000)}`),
  new RawJson(`${"[".repeat(65)}${"]".repeat(65)}`),
  { "key\u0000": 1 },
  { "\udc00": "lone surrogate key" },
);

/** Hostile values a database can store: each must be a 4xx or a success, never a 5xx. */
export const storableHostileLeaf: fc.Arbitrary<unknown> = fc.constantFrom<unknown>(
  "",
  " ",
  "x".repeat(20_000),
  "' OR 1=1 --",
  "'; drop table agents; --",
  "${jndi:ldap://127.0.0.1/a}",
  "../../../../etc/passwd",
  "%00",
  "\u202eevil",
  "😀".repeat(100),
  "\uffff\ufffe",
  new RawJson("123456789012345678901234567890123456789"),
  new RawJson("1e308"),
  new RawJson("-0"),
  new RawJson("1e-400"),
  9007199254740993,
  -1,
  Number.MAX_SAFE_INTEGER,
  null,
  true,
  [],
  {},
  Array.from({ length: 2000 }, (_, i) => i),
  new RawJson('{"__proto__":{"admin":true}}'),
  new RawJson('{"constructor":{"prototype":{"admin":true}}}'),
  // Deep, yet within the 64 levels wherever it lands in a generated body.
  new RawJson(`${"[".repeat(56)}${"]".repeat(56)}`),
);

/** Whole bodies that are not what the route reads. */
export const garbageBody: fc.Arbitrary<string> = fc.constantFrom(
  "",
  "{",
  "}",
  "null",
  "[]",
  '"just a string"',
  "42",
  "{'single': 'quotes'}",
  '{"a":1,}',
  "NaN",
  '{"a":1}{"b":2}',
  "\u0000",
  '{"a":"\\x00"}',
  '{"a":"\\ud800"',
  "<xml/>",
);

/** Replaces one value somewhere in `value` (its `index`-th, depth first), or adds `leaf` under `key` at the top. */
export function inject(value: unknown, leaf: unknown, index: number, key: string): unknown {
  let seen = 0;
  const walk = (node: unknown): unknown => {
    if (seen++ === index) return leaf;
    if (Array.isArray(node)) return node.map(walk);
    if (node !== null && typeof node === "object" && !(node instanceof RawJson)) return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, walk(v)]));
    return node;
  };
  const replaced = walk(value);
  if (seen > index && index > 0) return replaced;
  return value !== null && typeof value === "object" && !Array.isArray(value) ? { ...value, [key]: leaf } : { [key]: leaf, value };
}

/** Path segments in place of an id: not UUIDs, encodings the URL parser refuses, too long, storable or not. */
export const hostileSegment: fc.Arbitrary<string> = fc.constantFrom(
  "not-a-uuid",
  "00000000-0000-0000-0000-000000000000",
  "ffffffff-ffff-ffff-ffff-ffffffffffff",
  "0193A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B",
  "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5",
  "%00",
  "a%00b",
  "%ED%A0%80",
  "%",
  "%E0%A4%A",
  "%2F",
  "%2e%2e",
  "1e400",
  "-1",
  "'%20OR%201=1",
  "%F0%9F%98%80",
  "a".repeat(101),
  "b".repeat(5_000),
);

/** Query values: out of range, of the wrong type, not storable, repeated. */
export const hostileQueryValue: fc.Arbitrary<string> = fc.constantFrom("-1", "0", "1e400", "9".repeat(400), "abc", "%00", "%ED%A0%80", "", "true", "null", "[]", "2026-13-45", "%", "x".repeat(3000));

/** `Authorization` values that must never authenticate. */
export const garbageAuthorization: fc.Arbitrary<string> = fc.constantFrom(
  "Bearer",
  "Bearer ",
  "Bearer garbage",
  "Basic dXNlcjpwYXNz",
  "bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4Iiwid3MiOiJ4In0.",
  "Bearer eyJhbGciOiJFZERTQSJ9.e30.c2ln",
  `Bearer gxk_${"A".repeat(43)}`,
  "Bearer gxk_",
  `Bearer ${"x".repeat(4000)}`,
  "Token abc",
);

/** `Content-Type` values of a request with a body; `undefined` sends none. */
export const contentTypes: fc.Arbitrary<string | undefined> = fc.oneof(
  { arbitrary: fc.constant("application/json"), weight: 14 },
  {
    arbitrary: fc.constantFrom<string | undefined>(
      "application/json; charset=utf-8",
      "APPLICATION/JSON",
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/xml",
      "application/vnd.api+json",
      "application/json; charset=utf-16",
      "application/octet-stream",
      "*/*",
      "",
      undefined,
    ),
    weight: 6,
  },
);
