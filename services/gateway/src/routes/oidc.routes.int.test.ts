import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import type { FastifyInstance } from "fastify";
import { Redis } from "ioredis";
import { v7 as uuidv7 } from "uuid";
import type { Bus } from "@galaxy/bus";
import { ErrorBody, type UserSyncRequest } from "@galaxy/contracts";
import type { Kysely } from "@galaxy/db";
import { createMetrics } from "@galaxy/observability";
import { connectTestBus, createTestEnv, serviceDb, testLogger, type TestEnv } from "@galaxy/testkit";
import { buildGateway } from "../app";
import type { GatewayDb } from "../db";
import { signWebhook } from "@galaxy/webhooks";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

let env: TestEnv;
let gatewayBus: Bus;
let identityStub: Bus;
let db: Kysely<GatewayDb>;
let redis: Redis;
let configured: FastifyInstance;
let unconfigured: FastifyInstance;
const received: UserSyncRequest[] = [];
const userId = uuidv7();

beforeAll(async () => {
  env = await createTestEnv(inject("engines"));
  db = serviceDb<GatewayDb>(env, "gateway");
  gatewayBus = await connectTestBus(env, "gateway");
  redis = new Redis(env.redisUrl, { keyPrefix: env.redisPrefix });
  const deps = { bus: gatewayBus, db, redis, logger: testLogger("gateway"), metrics: createMetrics("gateway") };
  configured = await buildGateway({ ...deps, oidcWebhookSecrets: ["whsec_b3RoZXIgc2VjcmV0", SECRET] });
  unconfigured = await buildGateway({ ...deps, metrics: createMetrics("gateway-2") });
  // Stands in for identity: records what the gateway forwards after verifying the signature.
  identityStub = await connectTestBus(env, "identity");
  identityStub.serve("identity.users.sync", async (body) => {
    received.push(body);
    return { status: "applied", userId };
  });
  await identityStub.flush();
});

afterAll(async () => {
  await configured?.close();
  await unconfigured?.close();
  await identityStub?.close();
  await gatewayBus?.close();
  redis?.disconnect();
  await db?.destroy();
  await env?.cleanup();
});

function signed(body: string, id = `msg_${uuidv7()}`, contentType = "application/json") {
  const timestamp = Math.floor(Date.now() / 1000);
  return { "content-type": contentType, "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signWebhook(SECRET, id, timestamp, body) };
}

const userCreated = JSON.stringify({
  object: "event",
  type: "user.created",
  data: {
    id: "user_2abc",
    object: "user",
    email_addresses: [{ id: "idn_1", email_address: "ada@example.com", verification: { status: "verified", strategy: "email_code" } }],
    primary_email_address_id: "idn_1",
    first_name: "Ada",
    last_name: "Lovelace",
    private_metadata: { stripeCustomer: "cus_secret" },
    phone_numbers: [{ phone_number: "+15550100" }],
    updated_at: 1_700_000_000_000,
  },
});

describe("POST /hooks/identity/clerk", () => {
  test("without OIDC_WEBHOOK_SECRET the route answers 404 oidc_not_configured", async () => {
    const response = await unconfigured.inject({ method: "POST", url: "/hooks/identity/clerk", payload: userCreated, headers: signed(userCreated) });
    expect(response.statusCode).toBe(404);
    expect(ErrorBody.parse(JSON.parse(response.payload)).code).toBe("oidc_not_configured");
  });

  test("a signed delivery is forwarded with its webhook-id, stripped to the fields Galaxy reads", async () => {
    const headers = signed(userCreated, "msg_forwarded");
    const response = await configured.inject({ method: "POST", url: "/hooks/identity/clerk", payload: userCreated, headers });
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.payload)).toEqual({ data: { status: "applied", userId } });
    const forwarded = received.find((r) => r.webhookId === "msg_forwarded");
    expect(forwarded?.event.type).toBe("user.created");
    expect(JSON.stringify(forwarded)).not.toContain("cus_secret");
    expect(JSON.stringify(forwarded)).not.toContain("+15550100");
  });

  test("the signature is over the raw bytes: the same JSON re-serialized does not verify", async () => {
    const headers = signed(userCreated);
    const reformatted = JSON.stringify(JSON.parse(userCreated), null, 2);
    const response = await configured.inject({ method: "POST", url: "/hooks/identity/clerk", payload: reformatted, headers });
    expect(response.statusCode).toBe(401);
    expect(ErrorBody.parse(JSON.parse(response.payload)).code).toBe("invalid_webhook_signature");
  });

  test("a content type other than JSON is still verified and parsed (the route keeps raw bytes whatever the type)", async () => {
    const response = await configured.inject({ method: "POST", url: "/hooks/identity/clerk", payload: userCreated, headers: signed(userCreated, undefined, "text/plain") });
    expect(response.statusCode).toBe(200);
  });

  test("the raw-body parser is this route's alone: other routes still parse JSON", async () => {
    const response = await configured.inject({ method: "POST", url: "/api/auth/exchange", payload: "{not json", headers: { "content-type": "application/json" } });
    expect(response.statusCode).toBe(400);
    expect(ErrorBody.parse(JSON.parse(response.payload)).code).toBe("malformed_json");
    const valid = await configured.inject({ method: "POST", url: "/api/auth/exchange", payload: { nope: 1 } });
    expect(valid.statusCode).toBe(400);
    expect(ErrorBody.parse(JSON.parse(valid.payload)).code).toBe("validation_failed");
  });
});
