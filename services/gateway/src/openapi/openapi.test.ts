import { readFile } from "node:fs/promises";
import type { RouteOptions } from "fastify";
import { describe, expect, test as base } from "vitest";
import { Validator } from "@seriousme/openapi-schema-validator";
import { z } from "zod";
import { HTTP_ERROR_CODES } from "@galaxy/contracts";
import { apiDocument } from "./document";
import type { Json } from "./finish";

/** Routes that are not for integrators: probes, metrics, the document and its viewer, and the console (a web page: docs/console.md). */
const UNDOCUMENTED = [/^\/health\//, /^\/metrics$/, /^\/openapi\.json$/, /^\/docs(\/|$)/, /^\/console(\/|$)/];

const Operation = z.object({
  operationId: z.string().optional(),
  security: z.array(z.record(z.string(), z.array(z.string()))).optional(),
  parameters: z.array(z.object({ $ref: z.string() }).or(z.object({ name: z.string(), in: z.string() }))).optional(),
  responses: z.record(z.string(), z.record(z.string(), z.unknown())),
});
type Operation = z.infer<typeof Operation>;

/** An operation of the document, under its method and path. */
interface Listed {
  method: string;
  path: string;
  operation: Operation;
}

/**
 * Each set up once per file:
 * - `api`: the gateway described without engines (apiDocument): `document`, /openapi.json as it
 *   serves it, and `routes`, every route Fastify registered while building it;
 * - `document`, `routes`: each of them;
 * - `operations`: every operation of the document, with its method and path.
 */
const test = base
  .extend("api", { scope: "file" }, async (): Promise<{ document: Json; routes: RouteOptions[] }> => {
    const routes: RouteOptions[] = [];
    const document = await apiDocument(routes);
    return { document, routes };
  })
  .extend("document", { scope: "file" }, async ({ api }) => api.document)
  .extend("routes", { scope: "file" }, async ({ api }) => api.routes)
  .extend("operations", { scope: "file" }, async ({ document }): Promise<Listed[]> => {
    const operations: Listed[] = [];
    const paths = z.record(z.string(), z.record(z.string(), z.unknown())).parse(document.paths);
    for (const [path, item] of Object.entries(paths)) {
      for (const [method, operation] of Object.entries(item)) operations.push({ method, path, operation: Operation.parse(operation) });
    }
    return operations;
  });

/** The codes of the HTTP table of docs/errors.md (the bus-only and execution tables follow it). */
async function documentedCodes(): Promise<Map<string, number>> {
  const text = await readFile(new URL("../../../../docs/errors.md", import.meta.url), "utf8");
  const httpPart = text.split("## Bus-only failures")[0] ?? "";
  const codes = new Map<string, number>();
  for (const line of httpPart.split("\n")) {
    const row = /^\| (\d{3}) \| ([^|]+)\|/.exec(line);
    if (!row?.[1] || !row[2]) continue;
    for (const code of row[2].matchAll(/`([a-z][a-z0-9_]*)`/g)) if (code[1]) codes.set(code[1], Number(row[1]));
  }
  return codes;
}

describe("/openapi.json", () => {
  test("is a valid OpenAPI 3.1 document whose references all resolve", async ({ document }) => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
    expect(() => validator.resolveRefs()).not.toThrow();
  });

  test("every operation has an operationId, and no two share one", ({ operations }) => {
    const ids = operations.map(({ method, path, operation }) => operation.operationId ?? `(none on ${method.toUpperCase()} ${path})`);
    expect(ids.filter((id) => id.startsWith("(none"))).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
  });

  test("every route Fastify serves is in the document, but the probes and the document itself", ({ routes, operations }) => {
    const documented = new Set(operations.map(({ method, path }) => `${method.toUpperCase()} ${path}`));
    const missing: string[] = [];
    for (const route of routes) {
      const url = route.url.replace(/:([A-Za-z]+)/g, "{$1}");
      if (UNDOCUMENTED.some((pattern) => pattern.test(url))) continue;
      for (const method of [route.method].flat()) {
        if (method === "HEAD") continue;
        if (!documented.has(`${method} ${url}`)) missing.push(`${method} ${url}`);
      }
    }
    expect(routes.length).toBeGreaterThan(40);
    expect(missing).toEqual([]);
  });

  test("every error code docs/errors.md lists is in the document, with its status, and the code list holds no other", async ({ document }) => {
    const documented = await documentedCodes();
    const responses = z.record(z.string(), z.object({ "x-error-codes": z.array(z.string()) })).parse(z.object({ responses: z.unknown() }).parse(document.components).responses);
    const published = new Set(Object.values(responses).flatMap((response) => response["x-error-codes"]));
    expect(documented.size).toBeGreaterThan(60);
    expect([...documented.keys()].filter((code) => !published.has(code))).toEqual([]);
    expect([...documented].filter(([code, status]) => HTTP_ERROR_CODES[code as keyof typeof HTTP_ERROR_CODES] !== status)).toEqual([]);
    expect(Object.keys(HTTP_ERROR_CODES).filter((code) => !documented.has(code))).toEqual([]);
  });

  test("every operation answers its errors with the Error schema, and /api/* ones say 429 and their rate limit", ({ document, operations }) => {
    for (const { path, operation } of operations) {
      expect(operation.responses["500"], path).toEqual({ $ref: "#/components/responses/InternalError" });
      expect(operation.responses["503"], path).toEqual({ $ref: "#/components/responses/Unavailable" });
      if (!path.startsWith("/api/")) continue;
      expect(operation.responses["429"], path).toEqual({ $ref: "#/components/responses/TooManyRequests" });
      const success = Object.entries(operation.responses).find(([status]) => status.startsWith("2"))?.[1];
      expect(Object.keys(z.object({ headers: z.record(z.string(), z.unknown()) }).parse(success).headers), path).toEqual(expect.arrayContaining(["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"]));
    }
    const schemas = z.record(z.string(), z.unknown()).parse(z.object({ schemas: z.unknown() }).parse(document.components).schemas);
    expect(schemas.Error).toMatchObject({ type: "object", required: expect.arrayContaining(["error", "code", "message"]) });
  });

  test("sign-up, login, the OIDC sign-in and signed deliveries need no bearer token; everything else under /api does", ({ document, operations }) => {
    const publicOnes = operations.filter(({ operation }) => operation.security?.length === 0).map(({ operation }) => operation.operationId);
    expect(publicOnes.sort()).toEqual(["deliverWebhook", "describeOidcSignIn", "exchangeToken", "getJwks", "login", "receiveIdentityWebhook", "redeemOidcCode", "signup"]);
    expect(document.security).toEqual([{ bearer: [] }]);
  });

  test("mutations take an Idempotency-Key, but those that keep no record; deliveries take the webhook-* headers", ({ operations }) => {
    const byId = new Map(operations.map(({ operation }) => [operation.operationId, operation]));
    const refs = (id: string) => (byId.get(id)?.parameters ?? []).flatMap((parameter) => ("$ref" in parameter ? [parameter.$ref] : []));
    expect(refs("createAgent")).toContain("#/components/parameters/Idempotency-Key");
    expect(refs("startExecution")).toContain("#/components/parameters/Idempotency-Key");
    expect(refs("login")).not.toContain("#/components/parameters/Idempotency-Key");
    expect(refs("getAgent")).not.toContain("#/components/parameters/Idempotency-Key");
    // A read sent as a post: it keeps no record, so it does not offer the header it would ignore.
    expect(refs("queryKnowledgeBase")).not.toContain("#/components/parameters/Idempotency-Key");
    expect(refs("deliverWebhook")).toEqual(expect.arrayContaining(["#/components/parameters/webhook-id", "#/components/parameters/webhook-timestamp", "#/components/parameters/webhook-signature"]));
    expect(refs("streamExecutionEvents")).toContain("#/components/parameters/Last-Event-ID");
  });

  test("the event stream is text/event-stream, and completion callbacks are in webhooks", ({ document, operations }) => {
    const stream = operations.find(({ operation }) => operation.operationId === "streamExecutionEvents")?.operation;
    expect(Object.keys(z.object({ content: z.record(z.string(), z.unknown()) }).parse(stream?.responses["200"]).content)).toEqual(["text/event-stream"]);
    const webhooks = z.object({ executionFinished: z.object({ post: z.object({ operationId: z.string(), requestBody: z.unknown() }) }) }).parse(document.webhooks);
    expect(webhooks.executionFinished.post.requestBody).toMatchObject({ content: { "application/json": { schema: { $ref: "#/components/schemas/CompletionCallback" } } } });
  });

  test("resources, requests and the error are named component schemas", ({ document }) => {
    const schemas = Object.keys(z.record(z.string(), z.unknown()).parse(z.object({ schemas: z.unknown() }).parse(document.components).schemas));
    expect(schemas).toEqual(expect.arrayContaining(["Agent", "Execution", "Trigger", "KnowledgeBase", "AuditEntry", "CreateAgentBody", "SignupBody", "Error", "Pagination", "CompletionCallback"]));
  });
});
