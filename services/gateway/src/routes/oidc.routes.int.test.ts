import { describe, expect } from "vitest";
import { v7 as uuidv7 } from "uuid";
import { ErrorBody, type UserSyncRequest } from "@galaxy/contracts";
import { createMetrics } from "@galaxy/observability";
import { signWebhook } from "@galaxy/webhooks";
import { gatewayTest } from "../../test/fixtures";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const userId = uuidv7();

/**
 * On the gateway's fixtures (test/fixtures.ts), each set up once per file:
 * - `received`: what identity's stand-in was asked to sync, which is what the gateway forwards
 *   after verifying the signature (the stand-in answers `userId`);
 * - `configured`: a gateway with two OIDC webhook secrets, the second `SECRET`;
 * - `unconfigured`: a gateway without any, on a metrics registry of its own.
 */
const test = gatewayTest
  .extend("received", { scope: "file" }, async ({ identityBus }): Promise<UserSyncRequest[]> => {
    const received: UserSyncRequest[] = [];
    identityBus.serve("identity.users.sync", async (body) => {
      received.push(body);
      return { status: "applied", userId };
    });
    await identityBus.flush();
    return received;
  })
  .extend("configured", { scope: "file" }, async ({ makeGateway, received }) => {
    // Deliveries are forwarded to identity's stand-in: it serves before the first arrives.
    void received;
    return makeGateway({ oidcWebhookSecrets: ["whsec_b3RoZXIgc2VjcmV0", SECRET] });
  })
  .extend("unconfigured", { scope: "file" }, async ({ makeGateway }) => makeGateway({ metrics: createMetrics("gateway-2") }));

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
  test("without OIDC_WEBHOOK_SECRET the route answers 404 oidc_not_configured", async ({ unconfigured }) => {
    const response = await unconfigured.inject({ method: "POST", url: "/hooks/identity/clerk", payload: userCreated, headers: signed(userCreated) });
    expect(response.statusCode).toBe(404);
    expect(ErrorBody.parse(JSON.parse(response.payload)).code).toBe("oidc_not_configured");
  });

  test("a signed delivery is forwarded with its webhook-id, stripped to the fields Galaxy reads", async ({ configured, received }) => {
    const headers = signed(userCreated, "msg_forwarded");
    const response = await configured.inject({ method: "POST", url: "/hooks/identity/clerk", payload: userCreated, headers });
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.payload)).toEqual({ data: { status: "applied", userId } });
    const forwarded = received.find((r) => r.webhookId === "msg_forwarded");
    expect(forwarded?.event.type).toBe("user.created");
    expect(JSON.stringify(forwarded)).not.toContain("cus_secret");
    expect(JSON.stringify(forwarded)).not.toContain("+15550100");
  });

  test("the signature is over the raw bytes: the same JSON re-serialized does not verify", async ({ configured }) => {
    const headers = signed(userCreated);
    const reformatted = JSON.stringify(JSON.parse(userCreated), null, 2);
    const response = await configured.inject({ method: "POST", url: "/hooks/identity/clerk", payload: reformatted, headers });
    expect(response.statusCode).toBe(401);
    expect(ErrorBody.parse(JSON.parse(response.payload)).code).toBe("invalid_webhook_signature");
  });

  test("a content type other than JSON is still verified and parsed (the route keeps raw bytes whatever the type)", async ({ configured }) => {
    const response = await configured.inject({ method: "POST", url: "/hooks/identity/clerk", payload: userCreated, headers: signed(userCreated, undefined, "text/plain") });
    expect(response.statusCode).toBe(200);
  });

  test("the raw-body parser is this route's alone: other routes still parse JSON", async ({ configured }) => {
    const response = await configured.inject({ method: "POST", url: "/api/auth/exchange", payload: "{not json", headers: { "content-type": "application/json" } });
    expect(response.statusCode).toBe(400);
    expect(ErrorBody.parse(JSON.parse(response.payload)).code).toBe("malformed_json");
    const valid = await configured.inject({ method: "POST", url: "/api/auth/exchange", payload: { nope: 1 } });
    expect(valid.statusCode).toBe(400);
    expect(ErrorBody.parse(JSON.parse(valid.payload)).code).toBe("validation_failed");
  });
});
