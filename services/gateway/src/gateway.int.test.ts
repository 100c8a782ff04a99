import { describe, expect, vi } from "vitest";
import type { FastifyInstance } from "fastify";
import { v7 as uuidv7 } from "uuid";
import type { Bus } from "@galaxy/bus";
import { ErrorBody, SYSTEM_WORKSPACE_ID, UnavailableError, type LoginResult } from "@galaxy/contracts";
import { inWorkspace, sql } from "@galaxy/db";
import { createMetrics } from "@galaxy/observability";
import { serviceDb } from "@galaxy/testkit";
import { gatewayTest } from "../test/fixtures";
import type { GatewayDb } from "./db";
import { IN_PROGRESS_TIMEOUT_MS, withIdempotency } from "./idempotency/idempotency";

/**
 * On the gateway's fixtures (test/fixtures.ts), each set up once per file:
 * - `identityStub`: identity's stand-in, on `identityBus`: it answers logins (so idempotency can
 *   be counted) and leaves sign-up unserved;
 * - `metrics`: the service's registry, which the gateway's HTTP metrics go to;
 * - `app`: the gateway on them.
 */
const test = gatewayTest
  .extend("identityStub", { scope: "file" }, async ({ identityBus }): Promise<Bus> => {
    let logins = 0;
    identityBus.serve("identity.auth.login", async (body): Promise<LoginResult> => {
      logins += 1;
      return { accessToken: `token-${logins}`, expiresAt: new Date().toISOString(), workspace: { id: uuidv7(), name: body.email, slug: "w" }, role: "owner" };
    });
    await identityBus.flush();
    return identityBus;
  })
  .extend("metrics", { scope: "file" }, async () => createMetrics("gateway"))
  .extend("app", { scope: "file" }, async ({ makeGateway, metrics, identityStub }): Promise<FastifyInstance> => {
    // Logins reach identity's stand-in: it serves before the first request.
    void identityStub;
    return makeGateway({ metrics });
  });

const errorOf = (payload: string) => ErrorBody.parse(JSON.parse(payload));

describe("errors in the contract's format, never a 500 for bad input", () => {
  test("an unknown route is a 404 with a request id, and no trace made up when tracing is off", async ({ app }) => {
    const response = await app.inject({ method: "GET", url: "/api/nope", headers: { "x-request-id": "req-123" } });
    expect(response.statusCode).toBe(404);
    expect(errorOf(response.payload)).toMatchObject({ error: "Not Found", code: "route_not_found" });
    expect(response.headers["x-request-id"]).toBe("req-123");
    expect(response.headers.traceparent).toBeUndefined();
  });

  test("an incoming traceparent is continued, not replaced", async ({ app }) => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const response = await app.inject({ method: "GET", url: "/health/live", headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
    expect(String(response.headers.traceparent).split("-")[1]).toBe(traceId);
  });

  test("malformed JSON is a 400", async ({ app }) => {
    const response = await app.inject({ method: "POST", url: "/api/auth/login", headers: { "content-type": "application/json" }, payload: "{not json" });
    expect(response.statusCode).toBe(400);
    expect(errorOf(response.payload)).toMatchObject({ error: "Validation Error", code: "malformed_json" });
  });

  test("a body that fails its schema is a 400 naming each bad field", async ({ app }) => {
    const response = await app.inject({ method: "POST", url: "/api/auth/signup", payload: { email: "nope", password: "short", name: "", workspaceName: "W" } });
    expect(response.statusCode).toBe(400);
    const body = errorOf(response.payload);
    expect(body.code).toBe("validation_failed");
    expect(Object.keys(body.details ?? {})).toEqual(expect.arrayContaining(["body.email", "body.password", "body.name"]));
  });

  test("a body over 1 MiB is a 413", async ({ app }) => {
    const response = await app.inject({ method: "POST", url: "/api/auth/login", headers: { "content-type": "application/json" }, payload: JSON.stringify({ email: "a@b.co", password: "x".repeat(1024 * 1024) }) });
    expect(response.statusCode).toBe(413);
    expect(errorOf(response.payload).code).toBe("payload_too_large");
  });

  test("a body that is not JSON is a 415", async ({ app }) => {
    const response = await app.inject({ method: "POST", url: "/api/auth/login", headers: { "content-type": "text/plain" }, payload: "hello" });
    expect(response.statusCode).toBe(415);
    expect(errorOf(response.payload)).toMatchObject({ error: "Unsupported Media Type", code: "unsupported_media_type" });
  });

  test("an API route without credentials is a 401", async ({ app }) => {
    const response = await app.inject({ method: "GET", url: "/api/agents" });
    expect(response.statusCode).toBe(401);
    expect(errorOf(response.payload).code).toBe("missing_credentials");
  });

  test("a forged bearer token is a 401 (identity's keys come over the bus)", async ({ app, identityStub }) => {
    identityStub.serve("identity.jwks", async () => ({ keys: [] }));
    await identityStub.flush();
    const response = await app.inject({ method: "GET", url: "/api/agents", headers: { authorization: "Bearer eyJhbGciOiJFZERTQSJ9.e30.c2ln" } });
    expect(response.statusCode).toBe(401);
    expect(errorOf(response.payload).code).toBe("invalid_token");
  });

  test("a bad path id with a bad credential is a 401, not a 500: the credential is checked before the input", async ({ app }) => {
    const response = await app.inject({ method: "GET", url: "/api/executions/not-a-uuid", headers: { authorization: "Bearer x" } });
    expect(response.statusCode).toBe(401);
    expect(errorOf(response.payload).code).toBe("invalid_token");
  });

  test("a service that does not answer is a 503 the caller may retry", async ({ app }) => {
    const response = await app.inject({ method: "POST", url: "/api/auth/signup", payload: { email: "a@example.com", password: "correct horse battery", name: "A", workspaceName: "W" } });
    expect(response.statusCode).toBe(503);
    expect(errorOf(response.payload)).toMatchObject({ error: "Service Unavailable", code: "service_unavailable" });
  });
});

describe("Idempotency-Key", () => {
  const ws = uuidv7();
  const scope = (key: string, body: unknown = { name: "A" }) => ({ workspaceId: ws, principal: "user-1", key, method: "POST", path: "/api/agents", body });
  let runs = 0;
  const execute = async () => ({ status: 201, body: { data: { run: ++runs } } });

  test("the same key and body returns the first response without running it again", async ({ db }) => {
    const before = runs;
    const first = await withIdempotency(db, scope("key-1"), execute);
    const second = await withIdempotency(db, scope("key-1"), execute);
    expect(second).toEqual({ ...first, replayed: true });
    expect(first.replayed).toBe(false);
    expect(runs - before).toBe(1);
  });

  test("the same key with another body is a 409", async ({ db }) => {
    await withIdempotency(db, scope("key-2"), execute);
    await expect(withIdempotency(db, scope("key-2", { name: "B" }), execute)).rejects.toMatchObject({ status: 409, code: "idempotency_key_reused" });
  });

  test("keys are per caller: another principal's key of the same name is another key", async ({ db }) => {
    const first = await withIdempotency(db, scope("key-3"), execute);
    const other = await withIdempotency(db, { ...scope("key-3"), principal: "user-2" }, execute);
    expect(other.replayed).toBe(false);
    expect(other.body).not.toEqual(first.body);
  });

  test("a 5xx is not kept: the retry runs again", async ({ db }) => {
    const failing = async () => ({ status: 503, body: { error: "Service Unavailable" } });
    await withIdempotency(db, scope("key-4"), failing);
    const retry = await withIdempotency(db, scope("key-4"), execute);
    expect(retry).toMatchObject({ status: 201, replayed: false });
  });

  test("while the first is running, a repeat is a 409; once it is stale, a retry takes over", async ({ db }) => {
    let release: () => void = () => {};
    const slow = withIdempotency(db, scope("key-5"), () => new Promise((resolve) => (release = () => resolve({ status: 201, body: { slow: true } }))));
    await vi.waitFor(async () => expect(await inWorkspace(db, ws, (tx) => tx.selectFrom("idempotency_keys").select("key").where("key", "=", "key-5").execute())).toHaveLength(1));
    await expect(withIdempotency(db, scope("key-5"), execute)).rejects.toMatchObject({ status: 409, code: "idempotency_in_progress" });
    // As if the gateway that took the first request died a while ago.
    await inWorkspace(db, ws, (tx) => tx.updateTable("idempotency_keys").set({ created_at: new Date(Date.now() - 2 * IN_PROGRESS_TIMEOUT_MS) }).where("key", "=", "key-5").execute());
    expect(await withIdempotency(db, scope("key-5"), execute)).toMatchObject({ status: 201, replayed: false });
    release();
    await slow;
  });

  test("a store that fails once the request has run still gives its answer (it was applied), and logs why", async ({ env }) => {
    const store = serviceDb<GatewayDb>(env, "gateway");
    const warnings: string[] = [];
    const ran = await withIdempotency(store, scope("key-6"), async () => {
      await store.destroy();
      return { status: 201, body: { ran: true } };
    }, (_error, message) => warnings.push(message));
    expect(ran).toEqual({ status: 201, body: { ran: true }, replayed: false });
    expect(warnings).toEqual(["could not keep the response for its idempotency key"]);
  });

  test("a request that fails is told as it failed, even when its key cannot be released", async ({ env }) => {
    const store = serviceDb<GatewayDb>(env, "gateway");
    const failing = withIdempotency(store, scope("key-7"), async () => {
      await store.destroy();
      throw new UnavailableError("the agent-registry service did not answer");
    });
    await expect(failing).rejects.toMatchObject({ status: 503, code: "service_unavailable" });
  });

  test("sign-up and login keep no record: their answers hold tokens", async ({ app, db }) => {
    const response = await app.inject({ method: "POST", url: "/api/auth/login", headers: { "idempotency-key": "login-key" }, payload: { email: "ada@example.com", password: "correct horse battery" } });
    expect(response.statusCode).toBe(200);
    const rows = await inWorkspace(db, SYSTEM_WORKSPACE_ID, (tx) => tx.selectFrom("idempotency_keys").selectAll().execute());
    expect(rows).toEqual([]);
  });
});

describe("health, metrics and docs", () => {
  test("ready when bus, database and Redis answer", async ({ app }) => {
    const response = await app.inject({ method: "GET", url: "/health/ready" });
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.payload)).toMatchObject({ checks: { bus: true, database: true, redis: true } });
  });

  test("the HTTP histogram goes to the service's registry (served on the ops port), not to the public port", async ({ app, metrics }) => {
    await app.inject({ method: "GET", url: "/health/live" });
    expect(await metrics.metrics()).toContain("galaxy_http_request_duration_seconds");
    expect((await app.inject({ method: "GET", url: "/metrics" })).statusCode).toBe(404);
  });

  test("/openapi.json describes the API as OpenAPI 3.1", async ({ app }) => {
    const response = await app.inject({ method: "GET", url: "/openapi.json" });
    const doc = JSON.parse(response.payload);
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/api/auth/signup", "/api/agents", "/api/agents/{id}/executions", "/api/executions/{id}", "/api/audit-logs"]));
  });
});

describe("row-level security of the gateway schema", () => {
  test("idempotency records are invisible without their workspace, and other schemas are closed", async ({ db }) => {
    const ws = uuidv7();
    await inWorkspace(db, ws, (tx) =>
      tx.insertInto("idempotency_keys").values({ workspace_id: ws, principal: "u", key: "k", method: "POST", path: "/x", request_hash: "h", status: 200, response: "{}", expires_at: new Date(Date.now() + 60_000) }).execute(),
    );
    expect(await db.selectFrom("idempotency_keys").selectAll().execute()).toEqual([]);
    expect(await inWorkspace(db, ws, (tx) => tx.selectFrom("idempotency_keys").selectAll().execute())).toHaveLength(1);
    await expect(sql`select * from identity.users`.execute(db)).rejects.toThrow(/permission denied/);
  });
});
