import { ERROR_TITLES, HTTP_ERROR_CODES, type ErrorStatus } from "@galaxy/contracts";
import { API_HEADERS, API_PARAMETERS, completionCallbackWebhook } from "./headers";

/** A JSON object of the document, as `@fastify/swagger` builds it. */
export type Json = Record<string, unknown>;

const METHODS = ["get", "put", "post", "patch", "delete"] as const;
const MUTATIONS = new Set(["put", "post", "patch", "delete"]);

/**
 * Posts that keep no idempotency record, so `Idempotency-Key` would be ignored: their answers
 * hold tokens or secrets the gateway never stores (docs/decisions 0003, 0004, 0005), a webhook
 * sender's own `webhook-id` plays that part, or the post is a read with a body (a knowledge
 * base's query), which changes nothing to repeat.
 */
const WITHOUT_IDEMPOTENCY = new Set(["signup", "login", "exchangeToken", "switchWorkspace", "createApiKey", "putProviderCredential", "deliverWebhook", "receiveIdentityWebhook", "redeemOidcCode", "queryKnowledgeBase"]);

/** The component response of each error status. */
const ERROR_RESPONSE: Record<ErrorStatus, string> = {
  400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 408: "RequestTimeout", 409: "Conflict", 413: "PayloadTooLarge",
  414: "UriTooLong", 415: "UnsupportedMediaType", 429: "TooManyRequests", 431: "HeadersTooLarge", 500: "InternalError", 503: "Unavailable",
};

const SUCCESS: Record<string, string> = { "200": "OK", "201": "Created", "202": "Accepted", "204": "No Content" };

/** Which errors an operation documents: what any operation of its kind can answer. */
function errorStatuses(path: string, method: string, operation: Json): ErrorStatus[] {
  // Any request can carry headers over the limit (431); any path a segment over its limit (414).
  const statuses = new Set<ErrorStatus>([414, 431, 500, 503]);
  const isPublic = Array.isArray(operation.security) && operation.security.length === 0;
  const hasInput = Array.isArray(operation.parameters) || operation.requestBody !== undefined;
  if (hasInput) statuses.add(400);
  // Signing in is public, and refused with 401 (a wrong password, a bad token from the identity
  // provider) or 404 (no such workspace of the user, no provider configured).
  const signsIn = path.startsWith("/api/auth/") && path !== "/api/auth/signup";
  if (!isPublic || signsIn || path.startsWith("/hooks/")) statuses.add(401);
  if (!isPublic) statuses.add(403);
  if (path.includes("{") || !isPublic || signsIn || path.startsWith("/hooks/")) statuses.add(404);
  if (MUTATIONS.has(method)) statuses.add(409);
  if (operation.requestBody !== undefined || path.startsWith("/hooks/")) {
    statuses.add(413);
    statuses.add(415);
  }
  if (path.startsWith("/api/") || path.startsWith("/hooks/")) statuses.add(429);
  return [...statuses].sort();
}

const ref = (kind: string, name: string): Json => ({ $ref: `#/components/${kind}/${name}` });

function errorResponses(): Json {
  const responses: Json = {};
  for (const [statusText, name] of Object.entries(ERROR_RESPONSE)) {
    const status = Number(statusText) as ErrorStatus;
    const codes = Object.entries(HTTP_ERROR_CODES).filter(([, s]) => s === status).map(([code]) => code);
    const retry = status === 429 || status === 503;
    responses[name] = {
      description: `${ERROR_TITLES[status]}. \`code\` is one of: ${codes.map((c) => `\`${c}\``).join(", ")} (docs/errors.md).`,
      "x-error-codes": codes,
      ...(retry ? { headers: { "Retry-After": ref("headers", "Retry-After") } } : {}),
      content: { "application/json": { schema: ref("schemas", "Error") } },
    };
  }
  return responses;
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Adds a response header to every answer of the operation whose status matches. */
function addHeader(operation: Json, name: string, when: (status: string) => boolean): void {
  const responses = isObject(operation.responses) ? operation.responses : {};
  for (const [status, response] of Object.entries(responses)) {
    if (!when(status) || !isObject(response) || "$ref" in response) continue;
    response.headers = { ...(isObject(response.headers) ? response.headers : {}), [name]: ref("headers", name) };
  }
}

function finishOperation(path: string, method: string, operation: Json): void {
  const responses: Json = isObject(operation.responses) ? operation.responses : {};
  operation.responses = responses;
  const parameters: unknown[] = Array.isArray(operation.parameters) ? operation.parameters : [];
  const id = typeof operation.operationId === "string" ? operation.operationId : "";
  if (MUTATIONS.has(method) && !WITHOUT_IDEMPOTENCY.has(id)) {
    parameters.push(ref("parameters", "Idempotency-Key"));
    addHeader(operation, "Idempotent-Replayed", (status) => status.startsWith("2"));
  }
  if (path.startsWith("/hooks/")) parameters.push(ref("parameters", "webhook-id"), ref("parameters", "webhook-timestamp"), ref("parameters", "webhook-signature"));
  if (id === "streamExecutionEvents") {
    parameters.push(ref("parameters", "Last-Event-ID"));
    const ok = isObject(responses["200"]) ? responses["200"] : {};
    responses["200"] = {
      description: ok.description ?? "The execution's events",
      content: { "text/event-stream": { schema: { type: "string", description: "Server-sent events: `id:` seq, `event:` type, `data:` an `Event` (or an `ExecutionDelta` for `execution.delta`)" }, "x-item-schema": ref("schemas", "Event"), "x-delta-schema": ref("schemas", "ExecutionDelta") } },
    };
  }
  if (id === "streamExecutionChanges") {
    const ok = isObject(responses["200"]) ? responses["200"] : {};
    responses["200"] = {
      description: ok.description ?? "The workspace's execution status changes",
      content: { "text/event-stream": { schema: { type: "string", description: "Server-sent events: `event: ready`, then `event:` the change's type and `data:` an `ExecutionChange`" }, "x-item-schema": ref("schemas", "ExecutionChange") } },
    };
  }
  if (id === "exportAuditLogs") {
    responses["200"] = { description: "One audit entry per line, oldest first", content: { "application/x-ndjson": { schema: { type: "string" }, "x-item-schema": ref("schemas", "AuditEntry") } } };
  }
  if (parameters.length > 0) operation.parameters = parameters;
  for (const [status, response] of Object.entries(responses)) {
    if (isObject(response) && response.description === "Default Response") response.description = SUCCESS[status] ?? "OK";
  }
  for (const status of errorStatuses(path, method, operation)) responses[String(status)] ??= ref("responses", ERROR_RESPONSE[status]);
  if (path.startsWith("/api/")) {
    for (const header of ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"]) addHeader(operation, header, (status) => status.startsWith("2"));
  }
}

/** Every `$ref` to a component schema anywhere under `value`. */
function schemaRefs(value: unknown, found: Set<string>): Set<string> {
  if (Array.isArray(value)) for (const item of value) schemaRefs(item, found);
  else if (isObject(value)) {
    for (const [key, child] of Object.entries(value)) {
      if (key === "$ref" && typeof child === "string" && child.startsWith("#/components/schemas/")) found.add(child.slice("#/components/schemas/".length));
      else schemaRefs(child, found);
    }
  }
  return found;
}

function renameRefs(value: unknown, from: string, to: string): void {
  if (Array.isArray(value)) for (const item of value) renameRefs(item, from, to);
  else if (isObject(value)) {
    for (const [key, child] of Object.entries(value)) {
      if (key === "$ref" && child === `#/components/schemas/${from}`) value[key] = `#/components/schemas/${to}`;
      else renameRefs(child, from, to);
    }
  }
}

/**
 * The type provider names the request form of a schema `XInput` beside its answer form `X`.
 * Keeps what is referenced, and names an input `X` where no answer form is used, or where the
 * two are the same.
 */
function tidySchemas(document: Json, schemas: Json): Json {
  const live = new Set<string>();
  let frontier = schemaRefs({ ...document, components: { ...(isObject(document.components) ? document.components : {}), schemas: {} } }, new Set());
  while (frontier.size > 0) {
    const next = new Set<string>();
    for (const name of frontier) {
      if (live.has(name)) continue;
      live.add(name);
      schemaRefs(schemas[name], next);
    }
    frontier = next;
  }
  const kept: Json = {};
  for (const name of [...live].sort()) if (schemas[name] !== undefined) kept[name] = schemas[name];
  for (const name of Object.keys(kept)) {
    if (!name.endsWith("Input")) continue;
    const base = name.slice(0, -"Input".length);
    const same = kept[base] !== undefined && JSON.stringify(kept[base]) === JSON.stringify(kept[name]);
    if (kept[base] !== undefined && !same) continue;
    kept[base] = kept[name];
    delete kept[name];
    renameRefs(document, name, base);
    renameRefs(kept, name, base);
  }
  return Object.fromEntries(Object.entries(kept).sort(([a], [b]) => a.localeCompare(b)));
}

/** The last pass over `/openapi.json`: errors, headers, idempotency, the event stream, callbacks and tidy component names. */
export function finishDocument(document: Json): Json {
  const paths = isObject(document.paths) ? document.paths : {};
  for (const [path, item] of Object.entries(paths)) {
    if (!isObject(item)) continue;
    for (const method of METHODS) {
      const operation = item[method];
      if (isObject(operation)) finishOperation(path, method, operation);
    }
  }
  const components = isObject(document.components) ? document.components : {};
  document.webhooks = { executionFinished: completionCallbackWebhook() };
  document.components = {
    ...components,
    responses: errorResponses(),
    headers: API_HEADERS,
    parameters: API_PARAMETERS,
  };
  const finished = document.components as Json;
  finished.schemas = tidySchemas(document, isObject(components.schemas) ? components.schemas : {});
  return document;
}
