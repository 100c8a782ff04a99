import fc from "fast-check";
import type { Operation, Param } from "./openapi-document";
import { arbitraryOf } from "./schema-arbitrary";
import {
  contentTypes, garbageAuthorization, garbageBody, hostileQueryValue, hostileSegment, inject, storableHostileLeaf, toJsonText, unstorableLeaf,
} from "./hostile";

/** What the running Galaxy holds for the fuzz test's caller: ids to put in paths, and credentials. */
export interface Fixtures {
  token: string;
  apiKey: string;
  /** Real ids by the path they belong in (`/api/agents/{id}` → the agent's id); looked up by longest prefix. */
  ids: Array<{ prefix: string; param: string; id: string }>;
}

/** One generated request, and what the test may expect of its answer beyond "no 5xx, documented shape". */
export interface FuzzRequest {
  operation: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | Uint8Array | undefined;
  /** Its JSON body holds a value Postgres cannot store, and nothing else is wrong with the request's framing: a 400 `invalid_value`. */
  expectInvalidValue: boolean;
}

const OTHER_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"] as const;

function fixtureId(fixtures: Fixtures, path: string, param: string): string | undefined {
  const matches = fixtures.ids.filter((entry) => entry.param === param && path.startsWith(entry.prefix));
  return matches.sort((a, b) => b.prefix.length - a.prefix.length)[0]?.id;
}

/** A path parameter's value, and whether it is well-formed (so the route is reached and validated). */
function segmentOf(operation: Operation, param: Param, fixtures: Fixtures): fc.Arbitrary<{ text: string; wellFormed: boolean }> {
  const real = fixtureId(fixtures, operation.path, param.name);
  // A real id is never handed to DELETE: the fixtures must outlive the run.
  const realWeight = real && operation.method !== "DELETE" ? 6 : 0;
  const valid = arbitraryOf(param.schema).map((value) => encoded(String(value)));
  return fc.oneof(
    { arbitrary: fc.constant({ text: real ?? "", wellFormed: true }), weight: realWeight },
    { arbitrary: valid, weight: 3 },
    { arbitrary: hostileSegment.map((text) => ({ text, wellFormed: false })), weight: 2 },
  );
}

/** `encodeURIComponent`, which throws on a lone surrogate: then its UTF-8-looking bytes, a segment the gateway must refuse. */
function encoded(text: string): { text: string; wellFormed: boolean } {
  try {
    return { text: encodeURIComponent(text), wellFormed: true };
  } catch {
    return { text: "%ED%A0%80", wellFormed: false };
  }
}

function queryOf(operation: Operation): fc.Arbitrary<string> {
  if (operation.queryParams.length === 0) return fc.constantFrom("", "?unknown=1", "?%00=%00");
  const pairs = operation.queryParams.map((param) =>
    fc.option(
      fc.oneof(
        { arbitrary: arbitraryOf(param.schema).map((value) => `${param.name}=${encoded(String(value)).text}`), weight: 4 },
        { arbitrary: hostileQueryValue.map((value) => `${param.name}=${value}`), weight: 1 },
        { arbitrary: fc.constant(`${param.name}=1&${param.name}=2`), weight: 1 },
      ),
      { freq: 2 },
    ),
  );
  return fc.tuple(...pairs).map((parts) => {
    const present = parts.filter((part): part is string => part !== null);
    return present.length > 0 ? `?${present.join("&")}` : "";
  });
}

interface BodyChoice {
  body: string | undefined;
  unstorable: boolean;
}

function bodyOf(operation: Operation): fc.Arbitrary<BodyChoice> {
  const valid = operation.body ? arbitraryOf(operation.body) : fc.jsonValue({ maxDepth: 2 });
  const spot = fc.tuple(fc.nat({ max: 12 }), fc.constantFrom("extra", "input", "name", "__proto__"));
  const unstorableSpot = fc.tuple(fc.nat({ max: 12 }), fc.constantFrom("extra", "input", "\u0000", "\ud800"));
  const choices: Array<fc.WeightedArbitrary<BodyChoice>> = [
    { arbitrary: valid.map((value) => ({ body: toJsonText(value), unstorable: false })), weight: operation.body ? 8 : 1 },
    {
      arbitrary: fc.tuple(valid, unstorableLeaf, unstorableSpot).map(([value, leaf, [index, key]]) => ({ body: toJsonText(inject(value, leaf, index, key)), unstorable: true })),
      weight: 4,
    },
    {
      arbitrary: fc.tuple(valid, storableHostileLeaf, spot).map(([value, leaf, [index, key]]) => ({ body: toJsonText(inject(value, leaf, index, key)), unstorable: false })),
      weight: 3,
    },
    { arbitrary: garbageBody.map((body) => ({ body, unstorable: false })), weight: 2 },
  ];
  if (!operation.body) choices.push({ arbitrary: fc.constant({ body: undefined, unstorable: false }), weight: 8 });
  return fc.oneof(...choices);
}

function authorizationOf(fixtures: Fixtures): fc.Arbitrary<string | undefined> {
  return fc.oneof(
    { arbitrary: fc.constant(`Bearer ${fixtures.token}`), weight: 6 },
    { arbitrary: fc.constant(`Bearer ${fixtures.apiKey}`), weight: 3 },
    { arbitrary: fc.constant(undefined), weight: 1 },
    { arbitrary: garbageAuthorization, weight: 2 },
  );
}

/** Requests for one operation of the document, valid-ish and hostile. */
export function requestsFor(operation: Operation, fixtures: Fixtures): fc.Arbitrary<FuzzRequest> {
  const segments = fc.tuple(...operation.pathParams.map((param) => segmentOf(operation, param, fixtures)));
  return fc
    .record({
      segments,
      query: queryOf(operation),
      body: bodyOf(operation),
      contentType: contentTypes,
      authorization: authorizationOf(fixtures),
      idempotencyKey: fc.oneof({ arbitrary: fc.constant(undefined), weight: 6 }, { arbitrary: fc.uuid(), weight: 3 }, { arbitrary: fc.constantFrom("", "k".repeat(300)), weight: 1 }),
      method: fc.oneof({ arbitrary: fc.constant(operation.method), weight: 19 }, { arbitrary: fc.constantFrom(...OTHER_METHODS), weight: 1 }),
      // Headers over Node's 16 KiB limit, or a path longer than it.
      oversized: fc.oneof({ arbitrary: fc.constant("none" as const), weight: 48 }, { arbitrary: fc.constantFrom("header" as const, "path" as const), weight: 1 }),
      requestId: fc.option(fc.constantFrom("req-1", "x".repeat(300), "bad id with spaces", "\u00e9"), { freq: 8 }),
    })
    .map((r) => {
      let index = 0;
      let path = operation.path.replace(/\{[^}]+\}/g, () => r.segments[index++]?.text ?? "");
      if (r.oversized === "path") path = `${path}/${"p".repeat(20_000)}`;
      const headers: Record<string, string> = {};
      if (r.authorization !== undefined) headers.authorization = r.authorization;
      if (r.idempotencyKey !== undefined) headers["idempotency-key"] = r.idempotencyKey;
      if (r.requestId !== null) headers["x-request-id"] = r.requestId;
      if (r.oversized === "header") headers["x-padding"] = "x".repeat(17 * 1024);
      const sendsBody = r.body.body !== undefined && r.method !== "GET" && r.method !== "HEAD";
      let body: string | Uint8Array | undefined;
      if (sendsBody) {
        // Without a Content-Type header fetch would add text/plain for a string: bytes carry none.
        if (r.contentType === undefined) body = new TextEncoder().encode(r.body.body);
        else {
          headers["content-type"] = r.contentType;
          body = r.body.body;
        }
      }
      const wellFramed = r.segments.every((segment) => segment.wellFormed) && r.oversized === "none" && r.method === operation.method && r.contentType === "application/json";
      return {
        operation: `${operation.method} ${operation.path}`,
        method: r.method,
        path: `${path}${r.query}`,
        headers,
        body,
        // The webhook routes verify the signature first: an unsigned hostile body is a 401 there.
        expectInvalidValue: sendsBody && r.body.unstorable && wellFramed && !r.query.includes("%") && !operation.path.startsWith("/hooks/"),
      };
    });
}
