import { expect, test } from "vitest";
import pg from "pg";
import { inlineParameters, quoteLiteral } from "./inline-parameters";

test("each placeholder becomes its value as a quoted literal, quotes and backslashes escaped", () => {
  expect(inlineParameters("select * from t where a = $1 and b = $2 limit $3", ["x", "it's", 5])).toBe("select * from t where a = 'x' and b = 'it''s' limit '5'");
  expect(inlineParameters("select $1::text", ["back\\slash"])).toBe("select  E'back\\\\slash'::text");
  expect(inlineParameters("select $1, $2, $10", [null, true, 1, 2, 3, 4, 5, 6, 7, "ten"])).toBe("select NULL, 'true', 'ten'");
});

test("dates, arrays and objects become the text node-postgres would have sent", () => {
  expect(inlineParameters("select $1::uuid[]", [["a", "b"]])).toBe(`select '{"a","b"}'::uuid[]`);
  expect(inlineParameters("select $1::jsonb", [{ a: "o'k" }])).toBe(`select '{"a":"o''k"}'::jsonb`);
  const date = new Date("2026-12-05T10:00:00.000Z");
  expect(inlineParameters("select $1::timestamptz", [date])).toMatch(/^select '2026-12-05T\d\d:\d\d:00\.000[+-]\d\d:\d\d'::timestamptz$/);
});

test("placeholders inside strings, quoted names, dollar quotes and comments are left alone", () => {
  const text = `select '$1', "col$1", $$ $1 $$, $tag$ $1 $tag$, E'\\' $1' -- $1\n/* $1 */ from t where x = $1 and y$1 = 0`;
  expect(inlineParameters(text, ["v"])).toBe(`select '$1', "col$1", $$ $1 $$, $tag$ $1 $tag$, E'\\' $1' -- $1\n/* $1 */ from t where x = 'v' and y$1 = 0`);
  expect(inlineParameters("select 'it''s $1', $1", ["v"])).toBe("select 'it''s $1', 'v'");
});

test("binary data or a NUL character cannot be written as a literal", () => {
  expect(inlineParameters("select $1", [Buffer.from("x")])).toBeUndefined();
  expect(inlineParameters("select $1", ["a\0b"])).toBeUndefined();
});

test("a placeholder without its parameter is a bug, not a NULL", () => {
  expect(() => inlineParameters("select $2", ["one"])).toThrow(/\$2/);
});

test("a statement of many rows gets every placeholder, in any order, the text between them unchanged", () => {
  const values = Array.from({ length: 300 }, (_, i) => `v${i + 1}`);
  const rows = values.map((_, i) => `($${300 - i}, 'x$${i + 1}', now())`).join(", ");
  const expected = values.map((_, i) => `('v${300 - i}', 'x$${i + 1}', now())`).join(", ");
  expect(inlineParameters(`insert into t values ${rows} returning id`, values)).toBe(`insert into t values ${expected} returning id`);
});

test("literals are quoted exactly as node-postgres' escapeLiteral quotes them", () => {
  const samples = ["", "plain", "it's", "''", "back\\slash", "both ' and \\", "\\\\'\\", "ünïcødé 🚀", "line\nbreak", "$1 -- /* */"];
  for (const sample of samples) expect(quoteLiteral(sample)).toBe(pg.escapeLiteral(sample));
});
