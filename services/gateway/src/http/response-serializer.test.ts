import { isResponseSerializationError } from "fastify-type-provider-zod";
import { describe, expect, test } from "vitest";
import { z } from "zod";
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
