import { describe, expect, test } from "vitest";
import { z } from "zod";
import { EVENT_CATALOG, EVENT_TYPES } from "./events";
import { isSecretField, REDACTED, redact, SECRET_FIELDS } from "./redaction";

describe("redact", () => {
  test("replaces every secret field, at any depth, in objects and arrays", () => {
    const input = {
      user: { email: "ada@example.com", password: "hunter2hunter2" },
      keys: [{ id: "k1", key: "gxk_abc" }, { id: "k2", nested: { secret: "whsec_x", list: [{ token: "t" }] } }],
      accessToken: "eyJ...",
      count: 3,
    };
    expect(redact(input)).toEqual({
      user: { email: "ada@example.com", password: REDACTED },
      keys: [{ id: "k1", key: REDACTED }, { id: "k2", nested: { secret: REDACTED, list: [{ token: REDACTED }] } }],
      accessToken: REDACTED,
      count: 3,
    });
  });

  test("matches names whatever their case", () => {
    expect(redact({ Password: "a", APIKEY: "b", Authorization: "Bearer c", privatekey: "d", IdToken: "e" })).toEqual({
      Password: REDACTED,
      APIKEY: REDACTED,
      Authorization: REDACTED,
      privatekey: REDACTED,
      IdToken: REDACTED,
    });
  });

  test("redacts a secret field whatever its value holds, objects and nulls included", () => {
    expect(redact({ secret: { ciphertext: "x", keyId: "k" }, password: null })).toEqual({ secret: REDACTED, password: REDACTED });
  });

  test("leaves fields that merely contain a secret word alone", () => {
    const input = { keyId: "k1", secretHint: "ask ops", tokens: 12, passwordless: true };
    expect(redact(input)).toEqual(input);
  });

  test("returns a copy and never changes its input", () => {
    const input = { nested: { password: "p" }, list: [{ apiKey: "k" }] };
    const output = redact(input);
    expect(input).toEqual({ nested: { password: "p" }, list: [{ apiKey: "k" }] });
    expect(output).not.toBe(input);
  });

  test.each([null, undefined, 0, "password", true])("passes the scalar %s through", (value) => {
    expect(redact(value)).toBe(value);
  });

  test("every listed field counts as secret, in any case", () => {
    for (const field of SECRET_FIELDS) {
      expect(isSecretField(field)).toBe(true);
      expect(isSecretField(field.toUpperCase())).toBe(true);
    }
    expect(isSecretField("email")).toBe(false);
  });
});

/** Every object key a schema can hold, as paths (`agent.tools[].name`), walking into wrappers. */
function keyPaths(schema: z.core.$ZodType, path: string, seen = new Set<z.core.$ZodType>()): string[] {
  if (seen.has(schema)) return [];
  seen.add(schema);
  if (schema instanceof z.ZodObject) {
    return Object.entries(schema.shape).flatMap(([key, child]) => {
      const here = path ? `${path}.${key}` : key;
      return [here, ...keyPaths(child, here, seen)];
    });
  }
  if (schema instanceof z.ZodArray) return keyPaths(schema.element, `${path}[]`, seen);
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable) return keyPaths(schema.unwrap(), path, seen);
  if (schema instanceof z.ZodDefault) return keyPaths(schema.unwrap(), path, seen);
  if (schema instanceof z.ZodUnion) return schema.options.flatMap((option) => keyPaths(option, path, seen));
  if (schema instanceof z.ZodRecord) return keyPaths(schema.valueType, `${path}{}`, seen);
  if (schema instanceof z.ZodPipe) return keyPaths(schema.in, path, seen);
  return [];
}

describe("no event can carry a secret", () => {
  test.each(EVENT_TYPES)("%s has no secret field at the top of its data", (type) => {
    const data = EVENT_CATALOG[type].data;
    expect(data).toBeInstanceOf(z.ZodObject);
    const top = Object.keys(data.shape);
    expect(top.length).toBeGreaterThan(0);
    expect(top.filter(isSecretField)).toEqual([]);
  });

  test.each(EVENT_TYPES)("%s has no secret field anywhere in its data", (type) => {
    const paths = keyPaths(EVENT_CATALOG[type].data, "");
    expect(paths.length).toBeGreaterThan(0);
    const secret = paths.filter((p) => isSecretField(p.split(".").at(-1)?.replace(/(\[\]|\{\})+$/, "") ?? ""));
    expect(secret).toEqual([]);
  });

  test("the walk does find a secret field when a schema has one", () => {
    const leaky = z.object({ agent: z.object({ tools: z.array(z.object({ Secret: z.string() })).optional() }) });
    expect(keyPaths(leaky, "").filter((p) => isSecretField(p.split(".").at(-1) ?? ""))).toEqual(["agent.tools[].Secret"]);
  });
});
