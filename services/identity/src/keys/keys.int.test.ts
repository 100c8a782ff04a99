import { describe, expect } from "vitest";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import type { Bus } from "@galaxy/bus";
import { ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_TYP, CLAIM_ISSUER, EventEnvelope, SYSTEM_WORKSPACE_ID, type Jwks } from "@galaxy/contracts";
import type { Kysely } from "@galaxy/db";
import { connectTestBus, serviceDb, testLogger, type TestEnv } from "@galaxy/testkit";
import { test as engineTest } from "@galaxy/testkit/fixtures";
import { createIdentity, type IdentityService } from "../app";
import type { IdentityDb } from "../db";

const ACTIVATION_DELAY_MS = 1_500;

/** What a fixture is handed to clean up after itself. */
interface Cleanup {
  onCleanup(cleanup: () => unknown): void;
}

/** An identity instance on the file's database and a bus of its own, stopped (and its bus closed) after the file's last test. */
async function identityInstance(env: TestEnv, db: Kysely<IdentityDb>, name: string, { onCleanup }: Cleanup): Promise<IdentityService> {
  let instance: IdentityService | undefined;
  const bus = await connectTestBus(env, "identity", {
    loadJwks: async () => (instance ? instance.keys.publicJwks() : { keys: [] }),
    issueServiceClaim: async (ws) => {
      if (!instance) throw new Error(`${name} is not started`);
      return instance.auth.issueServiceClaim(ws, "identity");
    },
  });
  onCleanup(async () => {
    await bus.close();
    await instance?.stop();
  });
  instance = createIdentity({ db, bus, logger: testLogger(name), masterKey: env.masterKey, keyActivationDelayMs: ACTIVATION_DELAY_MS, keyRefreshIntervalMs: 100 });
  await instance.start();
  await bus.flush();
  return instance;
}

/**
 * The file's fixtures, each set up once per file, all before its first test:
 * - `env`: its own database and bus prefix (`@galaxy/testkit/fixtures`), and `db`: identity's login role on it;
 * - `identity` and `other`: two identity instances on that database (identityInstance), started in that order;
 * - `systemEvents`: the system workspace's events as `cli` received them;
 * - `cli`: the operator CLI's connection; `verifier`: a service that verifies claims (stands in
 *   for registry, worker and audit), answering audit.logs.list;
 * - `signup`, `login`: as the CLI asks; `askWith`: verifier's answer to a request with a claim.
 */
const test = engineTest
  .extend("db", { scope: "file" }, async ({ env }, { onCleanup }): Promise<Kysely<IdentityDb>> => {
    const db = serviceDb<IdentityDb>(env, "identity");
    onCleanup(() => db.destroy());
    return db;
  })
  .extend("identity", { scope: "file" }, async ({ env, db }, cleanup) => identityInstance(env, db, "identity-a", cleanup))
  .extend("other", { scope: "file" }, async ({ env, db, identity }, cleanup) => {
    // Started after the first instance, as it was before.
    void identity;
    return identityInstance(env, db, "identity-b", cleanup);
  })
  .extend("systemEvents", { scope: "file" }, async (): Promise<EventEnvelope[]> => [])
  .extend("cli", { scope: "file" }, async ({ env, systemEvents }, { onCleanup }): Promise<Bus> => {
    const cli = await connectTestBus(env, "galaxy-cli");
    onCleanup(() => cli.close());
    cli.subscribeCore(`evt.${SYSTEM_WORKSPACE_ID}.>`, (data) => {
      const parsed = EventEnvelope.safeParse(data);
      if (parsed.success) systemEvents.push(parsed.data);
    });
    await cli.flush();
    return cli;
  })
  .extend("verifier", { scope: "file" }, async ({ env }, { onCleanup }): Promise<Bus> => {
    const verifier = await connectTestBus(env, "audit");
    onCleanup(() => verifier.close());
    // Any claim-checked request will do: the bus verifies the claim before the handler runs.
    verifier.serve("audit.logs.list", async (query) => ({ items: [], pagination: { total: 0, limit: query.limit, offset: query.offset, hasMore: false } }));
    await verifier.flush();
    return verifier;
  })
  .extend("signup", { scope: "file" }, async ({ cli }) => (email: string) =>
    cli.request("identity.auth.signup", { email, password: "correct horse battery", name: email, workspaceName: email.split("@")[0] ?? "ws" }))
  .extend("login", { scope: "file" }, async ({ cli }) => (email: string) => cli.request("identity.auth.login", { email, password: "correct horse battery" }))
  .extend("askWith", { scope: "file" }, async ({ verifier }) => (claim: string, workspaceId: string): Promise<unknown> =>
    verifier.request("audit.logs.list", {}, { claim, workspaceId }).then(
      () => "accepted",
      (error: unknown) => error,
    ));
test.beforeAll(async ({ other, cli, verifier }) => {
  void other;
  void cli;
  void verifier;
});

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


describe("rotation", () => {
  let oldKid: string;
  let newKid: string;
  let oldToken: string;
  let oldClaim: string;
  let workspaceId: string;

  test("a rotated-in key is published at once and signs only after the activation delay", async ({ identity, other, cli, signup, login, askWith }) => {
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

  test("the retired key stays in the JWKS: what it signed still verifies", async ({ cli, askWith }) => {
    const jwks = await cli.request("identity.jwks", {});
    expect(kids(jwks)).toEqual(expect.arrayContaining([oldKid, newKid]));
    await expect(verifyAccessToken(oldToken, jwks)).resolves.toBeDefined();
    expect(await askWith(oldClaim, workspaceId)).toBe("accepted");
  });

  test("the active key cannot be revoked, an unknown one is a 404", async ({ cli }) => {
    await expect(cli.request("identity.operator.keys.revoke", { kid: newKid })).rejects.toMatchObject({ status: 409, code: "signing_key_active" });
    await expect(cli.request("identity.operator.keys.revoke", { kid: "no-such-key" })).rejects.toMatchObject({ status: 404, code: "signing_key_not_found" });
  });

  test("a revoked key leaves the JWKS, and a verifier that trusted it refuses its claims within seconds", async ({ identity, other, cli, login, askWith }) => {
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

  test("rotation and revocation are system-workspace events recorded as the operator's", async ({ systemEvents }) => {
    const events = await eventually(() => {
      const rotated = systemEvents.find((e) => e.type === "signing_key.rotated" && (e.data as { kid?: string }).kid === newKid);
      const revoked = systemEvents.filter((e) => e.type === "signing_key.revoked");
      return rotated && revoked.length >= 1 ? { rotated, revoked } : undefined;
    }, "the key events");
    expect(events.rotated).toMatchObject({ workspaceId: SYSTEM_WORKSPACE_ID, actor: { type: "operator", id: "galaxy-cli" }, data: { kid: newKid, previousKid: oldKid } });
    expect(events.revoked).toHaveLength(1);
    expect(events.revoked[0]).toMatchObject({ workspaceId: SYSTEM_WORKSPACE_ID, data: { kid: oldKid } });
  });

  test("`now` makes the new key sign at once and retires the one before", async ({ other, cli, login }) => {
    const rotation = await cli.request("identity.operator.keys.rotate", { now: true });
    expect(rotation).toMatchObject({ previousKid: newKid, key: { status: "active" } });
    expect(kidOf((await login("ada@example.com")).accessToken)).toBe(rotation.key.kid);
    await eventually(() => (other.keys.activeKid() === rotation.key.kid ? true : undefined), "the other instance to follow");
  });
});

describe("system admins", () => {
  test("the grant sets the flag once, records it in the system workspace, and tokens then say so", async ({ systemEvents, cli, signup, login }) => {
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

  test("an unknown email is a 404 and a malformed one a 400", async ({ cli }) => {
    await expect(cli.request("identity.operator.grant_system_admin", { email: "nobody@example.com" })).rejects.toMatchObject({ status: 404, code: "user_not_found" });
    await expect(cli.request("identity.operator.grant_system_admin", { email: "not an email" })).rejects.toMatchObject({ status: 400 });
  });

  test("an operator claim goes to system admins alone, for the system workspace", async ({ db, cli, verifier, signup, login }) => {
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
