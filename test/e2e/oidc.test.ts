import { describe, expect } from "vitest";
import { z } from "zod";
import { ErrorBody, LoginResult, Me, SYSTEM_WORKSPACE_ID } from "@galaxy/contracts";
import { sql } from "@galaxy/db";
import { signWebhook } from "@galaxy/webhooks";
import { issuerGalaxyTest, startGalaxyFirst } from "./fixtures";
import { api, dataOf, eventually, type ApiResponse } from "./harness";

/**
 * External identity end to end: a local Clerk-like issuer (RS256, JWKS on 127.0.0.1), its ID
 * tokens exchanged for Galaxy tokens, and its user-sync webhooks signed the Standard Webhooks way.
 */
const WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

const clerkUser = (id: string, firstName: string, updatedAt: number) => ({
  object: "user",
  id,
  email_addresses: [{ id: `idn_${id}`, object: "email_address", email_address: `${id}@example.com`, verification: { status: "verified", strategy: "email_code" }, linked_to: [] }],
  primary_email_address_id: `idn_${id}`,
  first_name: firstName,
  last_name: "Lovelace",
  username: null,
  public_metadata: {},
  private_metadata: { internal: "never stored" },
  created_at: 1_700_000_000_000,
  updated_at: updatedAt,
});

const SyncAnswer = z.object({ status: z.string(), userId: z.string().nullable() });

const codeOf = (response: ApiResponse) => ErrorBody.parse(response.body).code;

/**
 * The issuer's Galaxy, which takes its ID tokens and its signed user-sync webhooks.
 * - `exchange`: exchanges an ID token for a Galaxy token;
 * - `deliver`: POSTs a provider webhook, signed unless `signature` is given;
 * - `systemAudit`: the audit entries of the system workspace, of one action (audit consumes every event).
 */
const test = issuerGalaxyTest((issuer) => ({ oidc: { issuer: issuer.issuer, jwksUrl: issuer.jwksUrl }, oidcWebhookSecrets: [WEBHOOK_SECRET] }))
  .extend("exchange", { scope: "file" }, async ({ galaxy }) => async (idToken: string) => api(galaxy, "POST", "/api/auth/exchange", { body: { idToken } }))
  .extend("deliver", { scope: "file" }, async ({ galaxy }) => async (body: unknown, options: { id?: string; timestampS?: number; signature?: string; raw?: string } = {}): Promise<ApiResponse> => {
    const raw = options.raw ?? JSON.stringify(body);
    const id = options.id ?? `msg_${Math.random().toString(36).slice(2)}`;
    const timestamp = options.timestampS ?? Math.floor(Date.now() / 1000);
    return api(galaxy, "POST", "/hooks/identity/clerk", {
      body: raw,
      headers: { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": options.signature ?? signWebhook(WEBHOOK_SECRET, id, timestamp, raw) },
    });
  })
  .extend("systemAudit", { scope: "file" }, async ({ superuser }) => async (action: string) =>
    (await sql<{ id: string; resource_id: string }>`select id, resource_id from audit.audit_logs where workspace_id = ${SYSTEM_WORKSPACE_ID} and action = ${action} order by seq`.execute(superuser)).rows)
  /** Grace, made by a user.created delivery, and her `token` from the exchange (the webhooks' tests set her up first). */
  .extend("grace", { scope: "file" }, async ({ issuer, exchange, deliver }) => {
    const created = await deliver({ object: "event", type: "user.created", data: clerkUser("user_grace", "Grace", 1_700_000_000_000) });
    expect(created.status).toBe(200);
    const userId = dataOf(SyncAnswer, created).userId ?? "";
    const token = dataOf(LoginResult, await exchange(await issuer.sign({ sub: "user_grace" }))).accessToken;
    return { token, userId };
  })
  .extend("token", { scope: "file" }, async ({ grace }) => grace.token)
  .extend("userId", { scope: "file" }, async ({ grace }) => grace.userId);

describe("exchange", () => {
  let login: LoginResult;

  test("an ID token of the configured issuer is exchanged for a Galaxy token; the user is created on first sight", async ({ galaxy, issuer, exchange }) => {
    const response = await exchange(await issuer.sign({ sub: "user_ada", email: "ada@example.com", email_verified: true, name: "Ada" }));
    expect(response.status).toBe(200);
    login = dataOf(LoginResult, response);
    expect(login.role).toBe("owner");
    const me = dataOf(Me, await api(galaxy, "GET", "/api/me", { token: login.accessToken }));
    expect(me.user).toMatchObject({ email: "ada@example.com", name: "Ada" });
    expect(me.workspace.id).toBe(login.workspace.id);
  });

  test("the external token itself is refused on API routes, however valid", async ({ galaxy, issuer }) => {
    const external = await issuer.sign({ sub: "user_ada", email: "ada@example.com", email_verified: true });
    for (const path of ["/api/agents", "/api/me"]) {
      const response = await api(galaxy, "GET", path, { token: external });
      expect(response.status, path).toBe(401);
      expect(codeOf(response)).toBe("invalid_token");
    }
  });

  test("a forged, expired or foreign-issuer token is a 401 invalid_external_token", async ({ issuer, exchange }) => {
    for (const token of [
      await issuer.sign({ sub: "user_ada" }, { key: await issuer.foreignKey() }),
      await issuer.sign({ sub: "user_ada" }, { expiresInS: -300 }),
      await issuer.sign({ sub: "user_ada" }, { issuer: "https://clerk.evil.example" }),
      login.accessToken,
    ]) {
      const response = await exchange(token);
      expect(response.status).toBe(401);
      expect(codeOf(response)).toBe("invalid_external_token");
    }
  });

  test("a body that is not an exchange is a 400", async ({ galaxy }) => {
    const response = await api(galaxy, "POST", "/api/auth/exchange", { body: { token: "x" } });
    expect(response.status).toBe(400);
  });
});

describe("user sync webhooks", () => {
  test.beforeAll(async ({ grace }) => {
    void grace;
  });

  test("user.created made the user; the exchange logs into it", async ({ galaxy, token, userId }) => {
    const me = dataOf(Me, await api(galaxy, "GET", "/api/me", { token }));
    expect(me.user).toEqual({ id: userId, email: "user_grace@example.com", name: "Grace Lovelace" });
  });

  test("user.updated changes the name; a repeat delivery changes nothing", async ({ galaxy, deliver, systemAudit, token, userId }) => {
    const id = "msg_update_grace";
    const update = { object: "event", type: "user.updated", data: clerkUser("user_grace", "Augusta", 1_700_000_001_000) };
    const first = await deliver(update, { id });
    expect(dataOf(SyncAnswer, first).status).toBe("applied");
    expect(dataOf(Me, await api(galaxy, "GET", "/api/me", { token })).user.name).toBe("Augusta Lovelace");
    const repeat = await deliver(update, { id });
    expect(repeat.status).toBe(200);
    expect(dataOf(SyncAnswer, repeat)).toEqual({ status: "duplicate", userId });
    const updates = await eventually(async () => {
      const rows = await systemAudit("user.updated");
      return rows.length > 0 ? rows : undefined;
    });
    // Give a second, wrongly applied event time to arrive before counting.
    await new Promise((r) => setTimeout(r, 300));
    expect(await systemAudit("user.updated")).toHaveLength(updates.length);
    expect(updates.map((row) => row.resource_id)).toEqual([userId]);
  });

  test("a bad signature, a stale timestamp or missing headers are 401; a signed body that is not JSON is 400", async ({ galaxy, deliver, token }) => {
    const body = { object: "event", type: "user.updated", data: clerkUser("user_grace", "Mallory", 1_700_000_009_000) };
    const forged = await deliver(body, { signature: signWebhook("whsec_b3RoZXIgc2VjcmV0", "msg_forged", Math.floor(Date.now() / 1000), JSON.stringify(body)), id: "msg_forged" });
    expect(forged.status).toBe(401);
    expect(codeOf(forged)).toBe("invalid_webhook_signature");
    const stale = await deliver(body, { timestampS: Math.floor(Date.now() / 1000) - 6 * 60 });
    expect(stale.status).toBe(401);
    expect(codeOf(stale)).toBe("webhook_timestamp_out_of_range");
    const unsigned = await api(galaxy, "POST", "/hooks/identity/clerk", { body });
    expect(unsigned.status).toBe(401);
    const notJson = await deliver(null, { raw: "{not json" });
    expect(notJson.status).toBe(400);
    expect(codeOf(notJson)).toBe("malformed_json");
    expect(dataOf(Me, await api(galaxy, "GET", "/api/me", { token })).user.name).toBe("Augusta Lovelace");
  });

  test("an event type Galaxy does not apply is acknowledged and ignored; a malformed user event is 400; over 1 MiB is 413", async ({ deliver }) => {
    const session = await deliver({ object: "event", type: "session.created", data: { id: "sess_1" } });
    expect(dataOf(SyncAnswer, session)).toEqual({ status: "ignored", userId: null });
    const malformed = await deliver({ object: "event", type: "user.updated", data: { id: "user_grace" } });
    expect(malformed.status).toBe(400);
    const huge = await deliver({ object: "event", type: "user.updated", data: { ...clerkUser("user_grace", "Big", 1), padding: "x".repeat(1024 * 1024) } });
    expect(huge.status).toBe(413);
  });

  test("user.deleted: the user's token stops working within moments; the events are in the system workspace", async ({ galaxy, superuser, issuer, exchange, deliver, systemAudit, token, userId }) => {
    expect((await api(galaxy, "GET", "/api/agents", { token })).status).toBe(200);
    const since = Date.now();
    const deleted = await deliver({ object: "event", type: "user.deleted", data: { object: "user", id: "user_grace", deleted: true } });
    expect(dataOf(SyncAnswer, deleted)).toEqual({ status: "applied", userId });
    await eventually(async () => ((await api(galaxy, "GET", "/api/agents", { token })).status === 401 ? true : undefined), 2_000, "the deleted user's token to be refused");
    expect(Date.now() - since).toBeLessThan(2_000);
    const refused = await api(galaxy, "GET", "/api/me", { token });
    expect(refused.status).toBe(401);
    expect(codeOf(refused)).toBe("token_stale");
    expect((await exchange(await issuer.sign({ sub: "user_grace" }))).status).toBe(401);
    for (const action of ["user.created", "user.updated", "user.deleted"]) {
      const rows = await eventually(async () => {
        const found = await systemAudit(action);
        return found.some((row) => row.resource_id === userId) ? found : undefined;
      }, 10_000, `${action} in the system workspace's audit log`);
      expect(rows.length).toBeGreaterThan(0);
    }
    // The provider's private metadata never reaches an event.
    const leaked = await sql<{ n: number }>`select count(*)::int as n from audit.audit_logs where changes::text like '%never stored%'`.execute(superuser);
    expect(leaked.rows[0]?.n).toBe(0);
  });
});

startGalaxyFirst(test);