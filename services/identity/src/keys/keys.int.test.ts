import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import type { Bus } from "@galaxy/bus";
import { ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_TYP, CLAIM_ISSUER, EventEnvelope, SYSTEM_WORKSPACE_ID, type Jwks } from "@galaxy/contracts";
import type { Kysely } from "@galaxy/db";
import { connectTestBus, createTestEnv, serviceDb, testLogger, type TestEnv } from "@galaxy/testkit";
import { createIdentity, type IdentityService } from "../app";
import type { IdentityDb } from "../db";

const ACTIVATION_DELAY_MS = 1_500;

let env: TestEnv;
let db: Kysely<IdentityDb>;
let identity: IdentityService;
let other: IdentityService;
const buses: Bus[] = [];
/** The operator CLI's connection. */
let cli: Bus;
/** A service that verifies claims (stands in for registry, worker and audit). */
let verifier: Bus;
const systemEvents: EventEnvelope[] = [];

async function identityInstance(name: string): Promise<IdentityService> {
  let instance: IdentityService | undefined;
  const bus = await connectTestBus(env, "identity", {
    loadJwks: async () => (instance ? instance.keys.publicJwks() : { keys: [] }),
    issueServiceClaim: async (ws) => {
      if (!instance) throw new Error(`${name} is not started`);
      return instance.auth.issueServiceClaim(ws, "identity");
    },
  });
  buses.push(bus);
  instance = createIdentity({ db, bus, logger: testLogger(name), masterKey: env.masterKey, keyActivationDelayMs: ACTIVATION_DELAY_MS, keyRefreshIntervalMs: 100 });
  await instance.start();
  await bus.flush();
  return instance;
}

beforeAll(async () => {
  env = await createTestEnv(inject("engines"));
  db = serviceDb<IdentityDb>(env, "identity");
  identity = await identityInstance("identity-a");
  other = await identityInstance("identity-b");
  cli = await connectTestBus(env, "galaxy-cli");
  buses.push(cli);
  verifier = await connectTestBus(env, "audit");
  buses.push(verifier);
  // Any claim-checked request will do: the bus verifies the claim before the handler runs.
  verifier.serve("audit.logs.list", async (query) => ({ items: [], pagination: { total: 0, limit: query.limit, offset: query.offset, hasMore: false } }));
  cli.subscribeCore(`evt.${SYSTEM_WORKSPACE_ID}.>`, (data) => {
    const parsed = EventEnvelope.safeParse(data);
    if (parsed.success) systemEvents.push(parsed.data);
  });
  await Promise.all(buses.map((bus) => bus.flush()));
});

afterAll(async () => {
  for (const bus of buses) await bus.close();
  await identity?.stop();
  await other?.stop();
  await db?.destroy();
  await env?.cleanup();
});

const signup = (email: string) => cli.request("identity.auth.signup", { email, password: "correct horse battery", name: email, workspaceName: email.split("@")[0] ?? "ws" });
const login = (email: string) => cli.request("identity.auth.login", { email, password: "correct horse battery" });
const kidOf = (token: string) => decodeProtectedHeader(token).kid;
const kids = (jwks: Jwks) => jwks.keys.map((key) => key.kid);

async function verifyAccessToken(token: string, jwks: Jwks) {
  return jwtVerify(token, createLocalJWKSet({ keys: jwks.keys.map((key) => ({ ...key })) }), { algorithms: ["EdDSA"], issuer: CLAIM_ISSUER, audience: ACCESS_TOKEN_AUDIENCE, typ: ACCESS_TOKEN_TYP });
}

async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, what: string, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A claim-checked request to the stand-in service with this claim: its answer, or the error it got. */
async function askWith(claim: string, workspaceId: string): Promise<unknown> {
  return verifier.request("audit.logs.list", {}, { claim, workspaceId }).then(
    () => "accepted",
    (error: unknown) => error,
  );
}

describe("rotation", () => {
  let oldKid: string;
  let newKid: string;
  let oldToken: string;
  let oldClaim: string;
  let workspaceId: string;

  test("a rotated-in key is published at once and signs only after the activation delay", async () => {
    const ada = await signup("ada@example.com");
    workspaceId = ada.workspace.id;
    oldToken = ada.accessToken;
    oldKid = String(kidOf(oldToken));
    oldClaim = (await cli.request("identity.claims.issue", { accessToken: oldToken })).claim;
    expect(await askWith(oldClaim, workspaceId)).toBe("accepted");

    const rotatedAt = Date.now();
    const rotation = await cli.request("identity.operator.keys.rotate", {});
    newKid = rotation.key.kid;
    expect(rotation).toMatchObject({ previousKid: oldKid, key: { status: "pending" } });
    expect(Date.parse(rotation.key.activatesAt ?? "")).toBeGreaterThanOrEqual(rotatedAt + ACTIVATION_DELAY_MS - 50);

    // Published before it signs: every instance's JWKS has both keys at once…
    expect(kids(await cli.request("identity.jwks", {}))).toEqual(expect.arrayContaining([oldKid, newKid]));
    // The other instance learns of it from the event or its next re-read (100 ms here), well
    // within the JWKS cache time that the activation delay waits out.
    await eventually(() => (kids(other.keys.publicJwks()).includes(newKid) ? true : undefined), "the other instance to publish the new key", 2_000);
    expect(kids(other.keys.publicJwks())).toEqual(expect.arrayContaining([oldKid, newKid]));
    // …while the old key still signs, on either instance.
    expect(kidOf((await login("ada@example.com")).accessToken)).toBe(oldKid);
    expect(other.keys.activeKid()).toBe(oldKid);

    // After the delay, every instance signs with the new key.
    await eventually(async () => (kidOf((await login("ada@example.com")).accessToken) === newKid ? true : undefined), "the new key to sign");
    expect(Date.now() - rotatedAt).toBeGreaterThanOrEqual(ACTIVATION_DELAY_MS - 50);
    await eventually(() => (other.keys.activeKid() === newKid && identity.keys.activeKid() === newKid ? true : undefined), "both instances to sign with the new key");

    const list = await cli.request("identity.operator.keys.list", {});
    expect(list.keys.find((key) => key.kid === newKid)?.status).toBe("active");
    expect(list.keys.find((key) => key.kid === oldKid)?.status).toBe("retired");
    expect(list.keys.filter((key) => key.status === "active")).toHaveLength(1);
  });

  test("the retired key stays in the JWKS: what it signed still verifies", async () => {
    const jwks = await cli.request("identity.jwks", {});
    expect(kids(jwks)).toEqual(expect.arrayContaining([oldKid, newKid]));
    await expect(verifyAccessToken(oldToken, jwks)).resolves.toBeDefined();
    expect(await askWith(oldClaim, workspaceId)).toBe("accepted");
  });

  test("the active key cannot be revoked, an unknown one is a 404", async () => {
    await expect(cli.request("identity.operator.keys.revoke", { kid: newKid })).rejects.toMatchObject({ status: 409, code: "signing_key_active" });
    await expect(cli.request("identity.operator.keys.revoke", { kid: "no-such-key" })).rejects.toMatchObject({ status: 404, code: "signing_key_not_found" });
  });

  test("a revoked key leaves the JWKS, and a verifier that trusted it refuses its claims within seconds", async () => {
    const revoked = await cli.request("identity.operator.keys.revoke", { kid: oldKid });
    expect(revoked).toMatchObject({ kid: oldKid, status: "revoked" });
    const jwks = await cli.request("identity.jwks", {});
    expect(kids(jwks)).not.toContain(oldKid);
    expect(kids(jwks)).toContain(newKid);
    await expect(verifyAccessToken(oldToken, jwks)).rejects.toThrow();
    expect(kids(identity.keys.publicJwks())).not.toContain(oldKid);
    await eventually(() => (kids(other.keys.publicJwks()).includes(oldKid) ? undefined : true), "the other instance to drop the key", 3_000);

    // The verifier had the claim cached; the revocation event makes it drop that and the JWKS.
    const started = Date.now();
    const refused = await eventually(async () => {
      const answer = await askWith(oldClaim, workspaceId);
      return answer === "accepted" ? undefined : answer;
    }, "the verifier to refuse the revoked key's claim", 5_000);
    expect(refused).toMatchObject({ status: 401, code: "claim_unknown_key" });
    expect(Date.now() - started).toBeLessThan(5_000);
    // A claim of the new key is still fine.
    const fresh = (await cli.request("identity.claims.issue", { accessToken: (await login("ada@example.com")).accessToken })).claim;
    expect(await askWith(fresh, workspaceId)).toBe("accepted");
    // Revoking it again changes nothing.
    await expect(cli.request("identity.operator.keys.revoke", { kid: oldKid })).resolves.toMatchObject({ status: "revoked" });
  });

  test("rotation and revocation are system-workspace events recorded as the operator's", async () => {
    const events = await eventually(() => {
      const rotated = systemEvents.find((e) => e.type === "signing_key.rotated" && (e.data as { kid?: string }).kid === newKid);
      const revoked = systemEvents.filter((e) => e.type === "signing_key.revoked");
      return rotated && revoked.length >= 1 ? { rotated, revoked } : undefined;
    }, "the key events");
    expect(events.rotated).toMatchObject({ workspaceId: SYSTEM_WORKSPACE_ID, actor: { type: "operator", id: "galaxy-cli" }, data: { kid: newKid, previousKid: oldKid } });
    expect(events.revoked).toHaveLength(1);
    expect(events.revoked[0]).toMatchObject({ workspaceId: SYSTEM_WORKSPACE_ID, data: { kid: oldKid } });
  });

  test("`now` makes the new key sign at once and retires the one before", async () => {
    const rotation = await cli.request("identity.operator.keys.rotate", { now: true });
    expect(rotation).toMatchObject({ previousKid: newKid, key: { status: "active" } });
    expect(kidOf((await login("ada@example.com")).accessToken)).toBe(rotation.key.kid);
    await eventually(() => (other.keys.activeKid() === rotation.key.kid ? true : undefined), "the other instance to follow");
  });
});

describe("system admins", () => {
  test("the grant sets the flag once, records it in the system workspace, and tokens then say so", async () => {
    const grace = await signup("grace@example.com");
    expect(decodeSa(grace.accessToken)).toBeUndefined();
    const grant = await cli.request("identity.operator.grant_system_admin", { email: "Grace@Example.com" });
    expect(grant).toEqual({ userId: grace.user.id, email: "grace@example.com", systemAdmin: true, changed: true });
    expect(await cli.request("identity.operator.grant_system_admin", { email: "grace@example.com" })).toMatchObject({ changed: false });
    expect(decodeSa((await login("grace@example.com")).accessToken)).toBe(true);

    const granted = await eventually(() => systemEvents.filter((e) => e.type === "user.system_admin_granted"), "the grant event");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(systemEvents.filter((e) => e.type === "user.system_admin_granted")).toHaveLength(1);
    expect(granted[0]).toMatchObject({ workspaceId: SYSTEM_WORKSPACE_ID, actor: { type: "operator", id: "galaxy-cli" }, data: { userId: grace.user.id, email: "grace@example.com" } });
  });

  test("an unknown email is a 404 and a malformed one a 400", async () => {
    await expect(cli.request("identity.operator.grant_system_admin", { email: "nobody@example.com" })).rejects.toMatchObject({ status: 404, code: "user_not_found" });
    await expect(cli.request("identity.operator.grant_system_admin", { email: "not an email" })).rejects.toMatchObject({ status: 400 });
  });

  test("an operator claim goes to system admins alone, for the system workspace", async () => {
    const admin = await login("grace@example.com");
    const grant = await cli.request("identity.claims.operator", { accessToken: admin.accessToken });
    const claim = await verifier.claims.verify(grant.claim, { checkExpiry: true });
    expect(claim).toMatchObject({ ws: SYSTEM_WORKSPACE_ID, act: "operator", sub: decodeSub(admin.accessToken) });

    await signup("linus@example.com");
    const plain = await login("linus@example.com");
    await expect(cli.request("identity.claims.operator", { accessToken: plain.accessToken })).rejects.toMatchObject({ status: 403, code: "system_admin_required" });
    // A token that says `sa` is not taken at its word: the flag is read again.
    await db.updateTable("users").set({ system_admin: false }).where("email", "=", "grace@example.com").execute();
    await expect(cli.request("identity.claims.operator", { accessToken: admin.accessToken })).rejects.toMatchObject({ status: 403, code: "system_admin_required" });
    await expect(cli.request("identity.claims.operator", { accessToken: "not-a-token" })).rejects.toMatchObject({ status: 401 });
  });
});

function payloadOf(token: string): Record<string, unknown> {
  const part = token.split(".")[1] ?? "";
  const value: unknown = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
  return typeof value === "object" && value !== null ? { ...value } : {};
}

function decodeSa(token: string): unknown {
  return payloadOf(token).sa;
}

function decodeSub(token: string): unknown {
  return payloadOf(token).sub;
}
