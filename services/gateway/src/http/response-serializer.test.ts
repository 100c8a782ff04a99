import type { RouteOptions } from "fastify";
import { isResponseSerializationError } from "fastify-type-provider-zod";
import { describe, expect, test } from "vitest";
import { z } from "zod";
import { apiDocument } from "../openapi/document";
import { parsingSerializerCompiler } from "./response-serializer";

const Body = z.object({ data: z.object({ id: z.uuid(), status: z.enum(["queued", "completed"]) }) });
const serialize = (schema: unknown) => parsingSerializerCompiler({ schema, method: "GET", url: "/api/things/:id", httpStatus: "200" });
const id = "0193a0b2-1111-7000-8000-000000000001";

describe("responses are parsed by their route's schema before they are written", () => {
  test("keys the schema does not name never leave the gateway", () => {
    const body = { data: { id, status: "completed", secretHash: "never shown" }, internal: true };
    expect(JSON.parse(serialize(Body)(body))).toEqual({ data: { id, status: "completed" } });
  });

  test("a value the schema refuses is a response serialization error (answered 500), not a malformed body", () => {
    let thrown: unknown;
    try {
      serialize(Body)({ data: { id, status: "lost" } });
    } catch (error) {
      thrown = error;
    }
    expect(isResponseSerializationError(thrown)).toBe(true);
  });

  test("the schema as @fastify/swagger leaves it, under `properties`, serializes alike", () => {
    expect(serialize({ properties: Body })({ data: { id, status: "queued" } })).toBe(`{"data":{"id":"${id}","status":"queued"}}`);
  });

  test("a route whose response schema is not zod's is refused when the gateway starts, not when it answers", () => {
    expect(() => serialize({ type: "object" })).toThrow(/not a zod schema/);
  });
});

/** Where a parse would run something an encode would not (docs/benchmarks.md, "One parse of a response"): transforms, pipes and codecs, caught values. */
function forwardOnlySteps(schema: z.core.$ZodType, path: string, seen = new Set<z.core.$ZodType>()): string[] {
  if (seen.has(schema)) return [];
  seen.add(schema);
  const def = schema._zod.def as z.core.$ZodTypeDef & Record<string, unknown>;
  if (def.type === "transform" || def.type === "pipe" || def.type === "catch" || def.type === "prefault") return [`${path}: ${def.type}`];
  const inner = (value: unknown, at: string) => (value instanceof z.core.$ZodType ? forwardOnlySteps(value, at, seen) : []);
  const children: [unknown, string][] = [];
  if (def.type === "object") for (const [key, value] of Object.entries(def.shape as Record<string, unknown>)) children.push([value, `${path}.${key}`]);
  if (def.type === "array") children.push([def.element, `${path}[]`]);
  if (def.type === "union") for (const option of def.options as unknown[]) children.push([option, `${path}|`]);
  if (def.type === "intersection") children.push([def.left, path], [def.right, path]);
  if (def.type === "record") children.push([def.valueType, `${path}{}`]);
  if (def.type === "tuple") for (const item of def.items as unknown[]) children.push([item, `${path}()`]);
  if (def.type === "lazy") children.push([(def.getter as () => unknown)(), path]);
  children.push([def.innerType, path]);
  return children.flatMap(([value, at]) => inner(value, at));
}

test("no response schema of the gateway has a step a parse runs and an encode would not", async () => {
  const routes: RouteOptions[] = [];
  await apiDocument(routes);
  const responses = routes.flatMap((route) =>
    Object.entries((route.schema?.response ?? {}) as Record<string, unknown>).map(([status, schema]) => ({ where: `${String(route.method)} ${route.url} ${status}`, schema })),
  );
  expect(responses.length).toBeGreaterThan(50);
  const found = responses.flatMap(({ where, schema }) => (schema instanceof z.core.$ZodType ? forwardOnlySteps(schema, where) : [`${where}: not a zod schema`]));
  expect(found).toEqual([]);
  // The walk would see one.
  expect(forwardOnlySteps(z.object({ email: z.email().transform((email) => email.toLowerCase()) }), "example")).toEqual(["example.email: pipe"]);
});
