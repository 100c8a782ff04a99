import { describe, expect } from "vitest";
import { SignJWT, base64url } from "jose";
import { GalaxyError, SYSTEM_WORKSPACE_ID, type ClerkUser, type UserSyncRequest } from "@galaxy/contracts";
import { inWorkspace, OutboxRelay } from "@galaxy/db";
import { startLocalOidcIssuer, testLogger, type LocalOidcIssuer } from "@galaxy/testkit";
import { identityTestAfter, startIdentityFirst } from "../../test/fixtures";
import { OidcService } from "./oidc.service";
import { ExternalTokenVerifier } from "./oidc.verifier";

const AUDIENCE = "galaxy-test";

/**
 * identity's fixtures, configured with `issuer`: a local OIDC issuer of the file's own (audience
 * AUDIENCE), started before identity and closed after it; and the file's helpers on them:
 * - `exchange`: an external ID token exchanged for a Galaxy session, as the gateway asks;
 * - `systemEvents`: the system workspace's outbox rows of one type, oldest first;
 * - `linkOf`: the external identity linked for a subject of the issuer;
 * - `sync`: a user-sync webhook delivered, as the gateway hands it on.
 */
const test = identityTestAfter(
  async ({ onCleanup }) => {
    const issuer = await startLocalOidcIssuer({ audience: AUDIENCE });
    onCleanup(() => issuer.close());
    return issuer;
  },
  (issuer) => ({ oidc: { issuer: issuer.issuer, jwksUrl: issuer.jwksUrl, audience: AUDIENCE } }),
)
  .extend("issuer", { scope: "file" }, async ({ prelude }): Promise<LocalOidcIssuer> => prelude)
  .extend("exchange", { scope: "file" }, async ({ gateway }) => (idToken: string, workspaceId?: string) =>
    gateway.request("identity.auth.exchange", { idToken, ...(workspaceId ? { workspaceId } : {}) }))
  .extend("systemEvents", { scope: "file" }, async ({ db }) => (type: string) =>
    inWorkspace(db, SYSTEM_WORKSPACE_ID, (tx) => tx.selectFrom("outbox").select(["id", "payload"]).where("type", "=", type).orderBy("created_at").execute()))
  .extend("linkOf", { scope: "file" }, async ({ db, issuer }) => (subject: string) =>
    db.selectFrom("external_identities").selectAll().where("issuer", "=", issuer.issuer).where("subject", "=", subject).executeTakeFirst())
  .extend("sync", { scope: "file" }, async ({ gateway }) => (request: UserSyncRequest) => gateway.request("identity.users.sync", request));
startIdentityFirst(test);

const failure = async (promise: Promise<unknown>): Promise<{ status: number; code: string }> => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof GalaxyError)) throw new Error(`expected a GalaxyError, got ${String(error)}`);
  return { status: error.status, code: error.code };
};

describe("exchange", () => {
  test("on first sight the user is created with a workspace it owns, and user.created is a system-workspace event", async ({ db, gateway, issuer, exchange, systemEvents, linkOf }) => {
    const token = await issuer.sign({ sub: "user_first", email: "First@Example.com", email_verified: true, name: "Ada First" });
    const result = await exchange(token);
    expect(result.role).toBe("owner");
    expect(result.workspace.name).toBe("Ada First's workspace");
    const { claim } = await gateway.request("identity.claims.issue", { accessToken: result.accessToken });
    const me = await gateway.request("identity.me", {}, { claim, workspaceId: result.workspace.id });
    expect(me.user).toMatchObject({ email: "first@example.com", name: "Ada First" });
    expect(me.memberships).toHaveLength(1);
    expect((await linkOf("user_first"))?.user_id).toBe(me.user.id);
    const created = await systemEvents("user.created");
    expect(created.map((row) => row.payload)).toContainEqual(
      expect.objectContaining({ workspaceId: SYSTEM_WORKSPACE_ID, data: expect.objectContaining({ userId: me.user.id, source: "exchange", external: { issuer: issuer.issuer, subject: "user_first" } }) }),
    );
    const workspaceEvents = await inWorkspace(db, result.workspace.id, (tx) => tx.selectFrom("outbox").select("type").orderBy("created_at").execute());
    expect(workspaceEvents.map((row) => row.type)).toEqual(["workspace.created", "member.added"]);
  });

  test("a second exchange logs into the same user and workspace, creating nothing", async ({ db, issuer, exchange, systemEvents }) => {
    const before = (await systemEvents("user.created")).length;
    const first = await exchange(await issuer.sign({ sub: "user_first", email: "first@example.com", name: "Ada First" }));
    const second = await exchange(await issuer.sign({ sub: "user_first" }));
    expect(second.workspace.id).toBe(first.workspace.id);
    expect((await systemEvents("user.created")).length).toBe(before);
    const users = await db.selectFrom("users").select("id").where("email", "=", "first@example.com").execute();
    expect(users).toHaveLength(1);
  });

  test("a workspace the user does not belong to is a 404", async ({ issuer, exchange }) => {
    const token = await issuer.sign({ sub: "user_first" });
    expect(await failure(exchange(token, "0193a000-0000-7000-8000-000000000000"))).toEqual({ status: 404, code: "workspace_not_found" });
  });

  test.for<[string, (issuer: LocalOidcIssuer) => Promise<string>]>([
    ["another issuer", (issuer) => issuer.sign({ sub: "user_first" }, { issuer: "https://evil.example.com" })],
    ["another audience", (issuer) => issuer.sign({ sub: "user_first" }, { audience: "someone-else" })],
    ["no audience", (issuer) => issuer.sign({ sub: "user_first" }, { audience: [] })],
    ["an expired token", (issuer) => issuer.sign({ sub: "user_first" }, { expiresInS: -120 })],
    ["a key not in the JWKS (same kid)", async (issuer) => issuer.sign({ sub: "user_first" }, { key: await issuer.foreignKey() })],
    ["HS256 keyed with a guessable secret", (issuer) => new SignJWT({ sub: "user_first", aud: AUDIENCE }).setProtectedHeader({ alg: "HS256" }).setIssuer(issuer.issuer).setExpirationTime("5m").sign(new TextEncoder().encode("secret"))],
    ["alg none", async (issuer) => `${base64url.encode(JSON.stringify({ alg: "none", typ: "JWT" }))}.${base64url.encode(JSON.stringify({ sub: "user_first", iss: issuer.issuer, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 300 }))}.`],
    ["a changed payload", async (issuer) => {
      const [header, , signature] = (await issuer.sign({ sub: "user_someone" })).split(".");
      return `${header}.${base64url.encode(JSON.stringify({ sub: "user_first", iss: issuer.issuer, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 300 }))}.${signature}`;
    }],
    ["not a JWT", async () => "not-a-jwt"],
  ])("%s is a 401 invalid_external_token", async ([_name, token], { issuer, exchange }) => {
    expect(await failure(exchange(await token(issuer)))).toEqual({ status: 401, code: "invalid_external_token" });
  });

  test("a Galaxy access token is not an external token", async ({ issuer, exchange }) => {
    const own = await exchange(await issuer.sign({ sub: "user_first" }));
    expect(await failure(exchange(own.accessToken))).toEqual({ status: 401, code: "invalid_external_token" });
  });

  test("an unverified email, or none, creates no user", async ({ db, issuer, exchange, linkOf }) => {
    expect(await failure(exchange(await issuer.sign({ sub: "user_unverified", email: "unverified@example.com", email_verified: false })))).toEqual({ status: 401, code: "invalid_external_token" });
    expect(await failure(exchange(await issuer.sign({ sub: "user_no_email" })))).toEqual({ status: 401, code: "invalid_external_token" });
    expect(await linkOf("user_unverified")).toBeUndefined();
    expect(await db.selectFrom("users").select("id").where("email", "=", "unverified@example.com").executeTakeFirst()).toBeUndefined();
  });

  test("an account with the same email is linked only when the provider verified the email", async ({ gateway, issuer, exchange, systemEvents, linkOf }) => {
    const signup = await gateway.request("identity.auth.signup", { email: "grace@example.com", password: "correct horse battery", name: "Grace", workspaceName: "Grace's" });
    expect(await failure(exchange(await issuer.sign({ sub: "user_grace", email: "grace@example.com" })))).toEqual({ status: 409, code: "email_taken" });
    const linked = await exchange(await issuer.sign({ sub: "user_grace", email: "grace@example.com", email_verified: true }));
    expect(linked.workspace.id).toBe(signup.workspace.id);
    expect((await linkOf("user_grace"))?.user_id).toBe(signup.user.id);
    expect((await systemEvents("user.linked")).map((row) => row.payload)).toContainEqual(expect.objectContaining({ data: expect.objectContaining({ userId: signup.user.id }) }));
  });

  test("concurrent first exchanges make one user and one workspace", async ({ db, issuer, exchange }) => {
    const token = await issuer.sign({ sub: "user_race", email: "race@example.com", name: "Race" });
    const results = await Promise.all([exchange(token), exchange(token), exchange(token)]);
    expect(new Set(results.map((r) => r.workspace.id)).size).toBe(1);
    expect(await db.selectFrom("users").select("id").where("email", "=", "race@example.com").execute()).toHaveLength(1);
  });

  test("the provider's key server unreachable or answering no JWKS is a 503, not the caller's fault", async ({ issuer }) => {
    const token = await issuer.sign({ sub: "user_first" });
    const closed = new ExternalTokenVerifier({ issuer: issuer.issuer, jwksUrl: "http://127.0.0.1:1/.well-known/jwks.json" });
    const missing = new ExternalTokenVerifier({ issuer: issuer.issuer, jwksUrl: `${issuer.issuer}/no-such-jwks` });
    expect(await failure(closed.verify(token))).toEqual({ status: 503, code: "service_unavailable" });
    expect(await failure(missing.verify(token))).toEqual({ status: 503, code: "service_unavailable" });
  });

  test("without a configured issuer, exchange and sync are 404 oidc_not_configured", async ({ db, identity, issuer }) => {
    const relay = new OutboxRelay({ db, publish: async () => {}, logger: testLogger("relay") });
    const unconfigured = new OidcService({ db, keys: identity.keys, relay, verifier: undefined });
    const ctx = { claim: null, correlationId: "c", traceparent: "00-00000000000000000000000000000001-0000000000000001-01", clientIp: undefined, userAgent: undefined, requester: undefined, logger: testLogger("x"), eventContext: () => { throw new Error("none"); } };
    const token = await issuer.sign({ sub: "user_first" });
    expect(await failure(unconfigured.exchange({ idToken: token }, ctx))).toEqual({ status: 404, code: "oidc_not_configured" });
    expect(await failure(unconfigured.sync({ webhookId: "msg_x", event: { type: "user.deleted", data: { id: "user_first" } } }, ctx))).toEqual({ status: 404, code: "oidc_not_configured" });
  });
});

const clerkUser = (id: string, overrides: Partial<ClerkUser> = {}): ClerkUser => ({
  id,
  email_addresses: [{ id: `idn_${id}`, email_address: `${id}@example.com`, verification: { status: "verified" } }],
  primary_email_address_id: `idn_${id}`,
  first_name: "Sync",
  last_name: "User",
  updated_at: 1_700_000_000_000,
  ...overrides,
});

describe("user sync", () => {
  test("user.created makes a user with no workspace; the first exchange gives it one", async ({ db, issuer, exchange, systemEvents, sync }) => {
    const result = await sync({ webhookId: "msg_created_1", event: { type: "user.created", data: clerkUser("user_sync") } });
    expect(result.status).toBe("applied");
    const userId = result.userId;
    if (!userId) throw new Error("no user id");
    const user = await db.selectFrom("users").selectAll().where("id", "=", userId).executeTakeFirstOrThrow();
    expect(user).toMatchObject({ email: "user_sync@example.com", name: "Sync User", password_hash: null, deleted_at: null });
    const created = (await systemEvents("user.created")).map((row) => row.payload);
    expect(created).toContainEqual(expect.objectContaining({ actor: { type: "service", id: "identity" }, data: expect.objectContaining({ userId, source: "webhook", webhookId: "msg_created_1" }) }));
    const login = await exchange(await issuer.sign({ sub: "user_sync" }));
    expect(login.role).toBe("owner");
    expect(login.workspace.name).toBe("Sync User's workspace");
  });

  test("user.updated changes email and name once; a repeat of the same webhook-id changes nothing", async ({ db, systemEvents, sync }) => {
    const update = { webhookId: "msg_updated_1", event: { type: "user.updated" as const, data: clerkUser("user_sync", { first_name: "Renamed", email_addresses: [{ id: "idn_2", email_address: "renamed@example.com", verification: { status: "verified" } }], primary_email_address_id: "idn_2", updated_at: 1_700_000_001_000 }) } };
    const first = await sync(update);
    expect(first.status).toBe("applied");
    const countAfterFirst = (await systemEvents("user.updated")).length;
    expect(await sync(update)).toEqual({ status: "duplicate", userId: first.userId });
    expect((await systemEvents("user.updated")).length).toBe(countAfterFirst);
    const user = await db.selectFrom("users").select(["email", "name"]).where("id", "=", first.userId ?? "").executeTakeFirstOrThrow();
    expect(user).toEqual({ email: "renamed@example.com", name: "Renamed User" });
  });

  test("an older user.updated arriving late is skipped", async ({ db, linkOf, sync }) => {
    const stale = await sync({ webhookId: "msg_updated_0", event: { type: "user.updated", data: clerkUser("user_sync", { first_name: "Old", updated_at: 1_700_000_000_500 }) } });
    expect(stale).toMatchObject({ status: "skipped", reason: "stale" });
    const link = await linkOf("user_sync");
    const user = await db.selectFrom("users").select("name").where("id", "=", link?.user_id ?? "").executeTakeFirstOrThrow();
    expect(user.name).toBe("Renamed User");
  });

  test("user.deleted soft-deletes the user: its tokens get token_stale and exchange is refused", async ({ db, gateway, issuer, exchange, systemEvents, sync }) => {
    const login = await exchange(await issuer.sign({ sub: "user_sync" }));
    const result = await sync({ webhookId: "msg_deleted_1", event: { type: "user.deleted", data: { id: "user_sync", deleted: true } } });
    expect(result.status).toBe("applied");
    const row = await db.selectFrom("users").select("deleted_at").where("id", "=", result.userId ?? "").executeTakeFirstOrThrow();
    expect(row.deleted_at).toBeInstanceOf(Date);
    expect(await failure(gateway.request("identity.claims.issue", { accessToken: login.accessToken }))).toEqual({ status: 401, code: "token_stale" });
    expect(await failure(exchange(await issuer.sign({ sub: "user_sync" })))).toEqual({ status: 401, code: "invalid_external_token" });
    expect((await systemEvents("user.deleted")).map((r) => r.payload)).toContainEqual(expect.objectContaining({ workspaceId: SYSTEM_WORKSPACE_ID, data: expect.objectContaining({ userId: result.userId, webhookId: "msg_deleted_1" }) }));
    expect(await sync({ webhookId: "msg_deleted_2", event: { type: "user.deleted", data: { id: "user_sync" } } })).toMatchObject({ status: "skipped", reason: "user_deleted" });
  });

  test("deleting an unknown user and creating one whose email an unverified address shares are skipped", async ({ linkOf, sync }) => {
    expect(await sync({ webhookId: "msg_deleted_x", event: { type: "user.deleted", data: { id: "user_never_seen" } } })).toMatchObject({ status: "skipped", reason: "unknown_user" });
    const unverified = clerkUser("user_takeover", { email_addresses: [{ id: "idn_t", email_address: "grace@example.com", verification: { status: "unverified" } }], primary_email_address_id: "idn_t" });
    expect(await sync({ webhookId: "msg_takeover", event: { type: "user.created", data: unverified } })).toMatchObject({ status: "skipped", reason: "email_taken" });
    expect(await linkOf("user_takeover")).toBeUndefined();
  });

  test("concurrent repeats of one delivery apply it once", async ({ sync }) => {
    const request = { webhookId: "msg_concurrent", event: { type: "user.created" as const, data: clerkUser("user_concurrent") } };
    const results = await Promise.all([sync(request), sync(request), sync(request)]);
    expect(results.filter((r) => r.status === "applied")).toHaveLength(1);
    expect(results.filter((r) => r.status === "duplicate")).toHaveLength(2);
    expect(new Set(results.map((r) => r.userId)).size).toBe(1);
  });
});
