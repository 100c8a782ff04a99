import { describe, expect } from "vitest";
import { createHash } from "node:crypto";
import type { Bus } from "@galaxy/bus";
import { ApiKey, EventEnvelope, GalaxyError, type Role, type SignupResult } from "@galaxy/contracts";
import { inWorkspace, sql, type Kysely } from "@galaxy/db";
import type { IdentityDb } from "../db";
import { identityTest, startIdentityFirst } from "../../test/fixtures";
import { API_KEY_CLAIM_TTL_S } from "./api-keys.service";

let counter = 0;

/** Signs a user up, with a workspace named after their email, as the gateway would. */
const signupOn = (gateway: Bus) => (email: string) =>
  gateway.request("identity.auth.signup", { email, password: "correct horse battery", name: email, workspaceName: email.split("@")[0] ?? "w" });

/**
 * The file's helpers on identity's gateway connection and database, `owner` being the user who
 * signed up first (the workspace their keys are made in unless told): each a file fixture below.
 */
function helpersOn(gateway: Bus, db: Kysely<IdentityDb>, owner: SignupResult) {
  const signup = signupOn(gateway);
  const claimOf = async (accessToken: string) => (await gateway.request("identity.claims.issue", { accessToken })).claim;
  const as = (claim: string, workspaceId = owner.workspace.id) => ({ claim, workspaceId });
  const setRole = (workspaceId: string, userId: string, role: Role) =>
    inWorkspace(db, workspaceId, (tx) => tx.updateTable("members").set({ role }).where("workspace_id", "=", workspaceId).where("user_id", "=", userId).execute());

  /** A new user who is a member of the owner's workspace with `role`, and their claim there. */
  async function teammate(role: Role): Promise<{ userId: string; claim: string }> {
    counter += 1;
    const user = await signup(`mate-${counter}@example.com`);
    await inWorkspace(db, owner.workspace.id, (tx) => tx.insertInto("members").values({ workspace_id: owner.workspace.id, user_id: user.user.id, role }).execute());
    const login = await gateway.request("identity.auth.login", { email: user.user.email, password: "correct horse battery", workspaceId: owner.workspace.id });
    return { userId: user.user.id, claim: await claimOf(login.accessToken) };
  }

  const createKey = (claim: string, body: { name?: string; role: Role; expiresAt?: string }, workspaceId?: string) =>
    gateway.request("identity.api_keys.create", { name: body.name ?? "ci", ...body }, as(claim, workspaceId));

  /** The security.cross_workspace_attempt reports in a workspace, oldest first. */
  const reportsIn = async (workspaceId: string) =>
    (await inWorkspace(db, workspaceId, (tx) =>
      tx.selectFrom("outbox").select("payload").where("workspace_id", "=", workspaceId).where("type", "=", "security.cross_workspace_attempt").orderBy("created_at").orderBy("id").execute(),
    )).map((row) => EventEnvelope.parse(row.payload));

  return { claimOf, as, setRole, teammate, createKey, reportsIn };
}

/**
 * identity's fixtures; `owner`, a user signed up with a workspace of their own, and `ownerClaim`,
 * their claim there, both before the file's first test; and the file's helpers (helpersOn).
 */
const test = identityTest()
  .extend("owner", { scope: "file" }, async ({ gateway }) => signupOn(gateway)("owner@example.com"))
  .extend("ownerClaim", { scope: "file" }, async ({ gateway, owner }) => (await gateway.request("identity.claims.issue", { accessToken: owner.accessToken })).claim)
  .extend("helpers", { scope: "file" }, async ({ gateway, db, owner }) => helpersOn(gateway, db, owner))
  .extend("signup", { scope: "file" }, async ({ gateway }) => signupOn(gateway))
  .extend("claimOf", { scope: "file" }, async ({ helpers }) => helpers.claimOf)
  .extend("as", { scope: "file" }, async ({ helpers }) => helpers.as)
  .extend("setRole", { scope: "file" }, async ({ helpers }) => helpers.setRole)
  .extend("teammate", { scope: "file" }, async ({ helpers }) => helpers.teammate)
  .extend("createKey", { scope: "file" }, async ({ helpers }) => helpers.createKey)
  .extend("reportsIn", { scope: "file" }, async ({ helpers }) => helpers.reportsIn);
startIdentityFirst(test);
test.beforeAll(async ({ ownerClaim }) => {
  void ownerClaim;
});

describe("creating a key", () => {
  test("answers the key once, `gxk_` and at least 32 random characters, and stores only its SHA-256", async ({ db, owner, ownerClaim, createKey }) => {
    const created = await createKey(ownerClaim, { name: "deploy bot", role: "member" });
    expect(created.key).toMatch(/^gxk_[A-Za-z0-9_-]{32,}$/);
    expect(created.key.startsWith(created.prefix)).toBe(true);
    expect(created.prefix.length).toBeLessThan(16);
    expect(created.expiresAt).toBeNull();
    const row = await inWorkspace(db, owner.workspace.id, (tx) => tx.selectFrom("api_keys").selectAll().where("id", "=", created.id).executeTakeFirstOrThrow());
    expect(row.key_hash).toBe(createHash("sha256").update(created.key).digest("hex"));
    expect(JSON.stringify(row)).not.toContain(created.key.slice(12));
  });

  test("lists keys without the key or its hash, and records api_key.created without them", async ({ db, gateway, owner, ownerClaim, as, createKey }) => {
    const created = await createKey(ownerClaim, { name: "listed", role: "viewer" });
    const page = await gateway.request("identity.api_keys.list", { limit: 100 }, as(ownerClaim));
    const listed = page.items.find((k) => k.id === created.id);
    expect(listed).toMatchObject({ name: "listed", role: "viewer", prefix: created.prefix, createdBy: owner.user.id, revokedAt: null });
    expect(Object.keys(listed ?? {}).sort()).toEqual(Object.keys(ApiKey.shape).sort());
    expect(JSON.stringify(page)).not.toContain(created.key);
    const events = await inWorkspace(db, owner.workspace.id, (tx) => tx.selectFrom("outbox").select(["type", "payload"]).where("type", "=", "api_key.created").execute());
    const event = events.find((e) => JSON.stringify(e.payload).includes(created.id));
    expect(event).toBeDefined();
    expect(JSON.stringify(event)).not.toContain(created.key);
    expect(JSON.stringify(event)).not.toContain(createHash("sha256").update(created.key).digest("hex"));
  });

  test("a key's role may not exceed its creator's", async ({ teammate, createKey }) => {
    const admin = await teammate("admin");
    await expect(createKey(admin.claim, { role: "owner" })).rejects.toMatchObject({ status: 403, code: "api_key_role_too_high" });
    await expect(createKey(admin.claim, { role: "admin" })).resolves.toMatchObject({ role: "admin" });
  });

  test("members and viewers may not create, list or revoke keys; API keys may not either", async ({ gateway, ownerClaim, as, teammate, createKey }) => {
    const someKey = await createKey(ownerClaim, { role: "admin" });
    for (const role of ["member", "viewer"] as const) {
      const mate = await teammate(role);
      await expect(createKey(mate.claim, { role: "viewer" })).rejects.toMatchObject({ status: 403 });
      await expect(gateway.request("identity.api_keys.list", {}, as(mate.claim))).rejects.toMatchObject({ status: 403 });
      await expect(gateway.request("identity.api_keys.revoke", { id: someKey.id }, as(mate.claim))).rejects.toMatchObject({ status: 403 });
    }
    const { claim } = await gateway.request("identity.api_keys.authenticate", { key: someKey.key });
    await expect(createKey(claim, { role: "viewer" })).rejects.toMatchObject({ status: 403 });
  });

  test("an expiry in the past is a 400 naming expiresAt", async ({ ownerClaim, createKey }) => {
    await expect(createKey(ownerClaim, { role: "viewer", expiresAt: new Date(Date.now() - 1000).toISOString() })).rejects.toMatchObject({ status: 400, details: { "body.expiresAt": expect.any(String) } });
  });
});

describe("authenticating a key", () => {
  test("gives a short claim for the key, acting for the workspace with the key's role, naming its creator", async ({ db, gateway, owner, ownerClaim, createKey }) => {
    const created = await createKey(ownerClaim, { role: "member" });
    const grant = await gateway.request("identity.api_keys.authenticate", { key: created.key });
    expect(grant).toMatchObject({ workspaceId: owner.workspace.id, apiKeyId: created.id, createdBy: owner.user.id });
    const claim = await gateway.claims.verify(grant.claim, { checkExpiry: true });
    expect(claim).toMatchObject({ ws: owner.workspace.id, sub: created.id, act: "api_key", role: "member", own: owner.user.id });
    expect(claim.exp - claim.iat).toBeLessThanOrEqual(API_KEY_CLAIM_TTL_S);
    expect(grant.expiresAt).toBe(claim.exp);
    const row = await inWorkspace(db, owner.workspace.id, (tx) => tx.selectFrom("api_keys").select("last_used_at").where("id", "=", created.id).executeTakeFirstOrThrow());
    expect(row.last_used_at).not.toBeNull();
  });

  test("an unknown or malformed key is a 401 invalid_api_key", async ({ gateway }) => {
    for (const key of [`gxk_${"A".repeat(43)}`, "not-a-key", "gxk_"]) {
      await expect(gateway.request("identity.api_keys.authenticate", { key })).rejects.toMatchObject({ status: 401, code: "invalid_api_key" });
    }
  });

  test("when its creator is demoted, the key acts with the creator's new role; promoted back, with its own", async ({ gateway, owner, setRole, teammate, createKey }) => {
    const admin = await teammate("admin");
    const created = await createKey(admin.claim, { role: "admin" });
    await setRole(owner.workspace.id, admin.userId, "viewer");
    const demoted = await gateway.claims.verify((await gateway.request("identity.api_keys.authenticate", { key: created.key })).claim, { checkExpiry: true });
    expect(demoted.role).toBe("viewer");
    await setRole(owner.workspace.id, admin.userId, "owner");
    const promoted = await gateway.claims.verify((await gateway.request("identity.api_keys.authenticate", { key: created.key })).claim, { checkExpiry: true });
    expect(promoted.role).toBe("admin");
  });

  test("when its creator leaves the workspace, the key is a 401", async ({ db, gateway, owner, teammate, createKey }) => {
    const admin = await teammate("admin");
    const created = await createKey(admin.claim, { role: "member" });
    await expect(gateway.request("identity.api_keys.authenticate", { key: created.key })).resolves.toMatchObject({ apiKeyId: created.id });
    await inWorkspace(db, owner.workspace.id, (tx) => tx.deleteFrom("members").where("workspace_id", "=", owner.workspace.id).where("user_id", "=", admin.userId).execute());
    await expect(gateway.request("identity.api_keys.authenticate", { key: created.key })).rejects.toMatchObject({ status: 401, code: "invalid_api_key" });
  });

  test("a claim never outlives its key, and an expired key is a 401", async ({ gateway, ownerClaim, createKey }) => {
    // Long enough for the key to be made and used once on a machine busy with the rest of the suite.
    const expiresAt = new Date(Date.now() + 5_000);
    const created = await createKey(ownerClaim, { role: "viewer", expiresAt: expiresAt.toISOString() });
    expect(created.expiresAt).toBe(expiresAt.toISOString());
    const grant = await gateway.request("identity.api_keys.authenticate", { key: created.key });
    expect(grant.expiresAt).toBeLessThanOrEqual(Math.floor(expiresAt.getTime() / 1000));
    await new Promise((r) => setTimeout(r, expiresAt.getTime() - Date.now() + 50));
    await expect(gateway.request("identity.api_keys.authenticate", { key: created.key })).rejects.toMatchObject({ status: 401, code: "invalid_api_key" });
  });
});

describe("revoking a key", () => {
  test("makes it a 401, drops it from the list, and records api_key.revoked", async ({ db, gateway, owner, ownerClaim, as, createKey }) => {
    const created = await createKey(ownerClaim, { role: "member" });
    const revoked = await gateway.request("identity.api_keys.revoke", { id: created.id }, as(ownerClaim));
    expect(revoked.revokedAt).not.toBeNull();
    await expect(gateway.request("identity.api_keys.authenticate", { key: created.key })).rejects.toMatchObject({ status: 401, code: "invalid_api_key" });
    const page = await gateway.request("identity.api_keys.list", { limit: 100 }, as(ownerClaim));
    expect(page.items.map((k) => k.id)).not.toContain(created.id);
    const events = await inWorkspace(db, owner.workspace.id, (tx) => tx.selectFrom("outbox").select("payload").where("type", "=", "api_key.revoked").execute());
    expect(events.some((e) => JSON.stringify(e.payload).includes(created.id))).toBe(true);
  });

  test("twice is a 404", async ({ gateway, ownerClaim, as, createKey }) => {
    const created = await createKey(ownerClaim, { role: "member" });
    await gateway.request("identity.api_keys.revoke", { id: created.id }, as(ownerClaim));
    await expect(gateway.request("identity.api_keys.revoke", { id: created.id }, as(ownerClaim))).rejects.toMatchObject({ status: 404, code: "api_key_not_found" });
  });

  test("another workspace's key is a 404 and keeps working; another workspace's list does not show it", async ({ gateway, ownerClaim, signup, claimOf, as, createKey }) => {
    const created = await createKey(ownerClaim, { role: "member" });
    const stranger = await signup("stranger@example.com");
    const strangerClaim = await claimOf(stranger.accessToken);
    const attempt = await gateway.request("identity.api_keys.revoke", { id: created.id }, as(strangerClaim, stranger.workspace.id)).catch((e: unknown) => e);
    expect(attempt).toBeInstanceOf(GalaxyError);
    expect(attempt).toMatchObject({ status: 404, code: "api_key_not_found" });
    const theirs = await gateway.request("identity.api_keys.list", {}, as(strangerClaim, stranger.workspace.id));
    expect(theirs.items).toEqual([]);
    await expect(gateway.request("identity.api_keys.authenticate", { key: created.key })).resolves.toMatchObject({ apiKeyId: created.id });
  });
});

describe("revoking another workspace's key", () => {
  test("is the 404 of a random id, and only the foreign id is reported as security.cross_workspace_attempt in the caller's workspace", async ({ gateway, owner, ownerClaim, signup, claimOf, as, createKey, reportsIn }) => {
    const created = await createKey(ownerClaim, { role: "member" });
    const intruder = await signup("intruder@example.com");
    const intruderClaim = await claimOf(intruder.accessToken);
    const randomId = "0190f5a0-0000-7000-8000-00000000beef";
    const foreign = await gateway.request("identity.api_keys.revoke", { id: created.id }, { ...as(intruderClaim, intruder.workspace.id), clientIp: "203.0.113.9", userAgent: "probe/1" }).catch((e: unknown) => e);
    const random = await gateway.request("identity.api_keys.revoke", { id: randomId }, as(intruderClaim, intruder.workspace.id)).catch((e: unknown) => e);
    expect(foreign).toBeInstanceOf(GalaxyError);
    expect(random).toBeInstanceOf(GalaxyError);
    const answer = (e: unknown) => (e instanceof GalaxyError ? { status: e.status, code: e.code, message: e.message.replace(created.id, "<id>").replace(randomId, "<id>") } : e);
    expect(answer(foreign)).toEqual(answer(random));
    expect(answer(foreign)).toMatchObject({ status: 404, code: "api_key_not_found" });

    const reports = await reportsIn(intruder.workspace.id);
    expect(reports.map((e) => ({ actor: e.actor, data: e.data }))).toEqual([
      {
        actor: { type: "user", id: intruder.user.id },
        data: { actor: { type: "user", id: intruder.user.id }, targetType: "api_key", targetId: created.id, operation: "api_keys.revoke", ipAddress: "203.0.113.9", userAgent: "probe/1" },
      },
    ]);
    // The key's own workspace is told nothing, and the key is untouched.
    expect((await reportsIn(owner.workspace.id)).filter((e) => JSON.stringify(e.data).includes(created.id))).toEqual([]);
    await expect(gateway.request("identity.api_keys.authenticate", { key: created.key })).resolves.toMatchObject({ apiKeyId: created.id });
  });

  test("an API key of another workspace trying it is reported as that key, before its role is checked", async ({ gateway, ownerClaim, signup, claimOf, as, createKey, reportsIn }) => {
    const target = await createKey(ownerClaim, { role: "viewer" });
    const outsider = await signup("outsider@example.com");
    const outsiderClaim = await claimOf(outsider.accessToken);
    const outsiderKey = await createKey(outsiderClaim, { role: "viewer" }, outsider.workspace.id);
    const { claim } = await gateway.request("identity.api_keys.authenticate", { key: outsiderKey.key });
    await expect(gateway.request("identity.api_keys.revoke", { id: target.id }, as(claim, outsider.workspace.id))).rejects.toMatchObject({ status: 404, code: "api_key_not_found" });
    const reports = await reportsIn(outsider.workspace.id);
    expect(reports.map((e) => e.data)).toEqual([
      { actor: { type: "api_key", id: outsiderKey.id }, targetType: "api_key", targetId: target.id, operation: "api_keys.revoke", ipAddress: null, userAgent: null },
    ]);
  });

  test("a key revoked already in the caller's own workspace is a 404 and no report", async ({ gateway, owner, ownerClaim, as, createKey, reportsIn }) => {
    const created = await createKey(ownerClaim, { role: "viewer" });
    await gateway.request("identity.api_keys.revoke", { id: created.id }, as(ownerClaim));
    await expect(gateway.request("identity.api_keys.revoke", { id: created.id }, as(ownerClaim))).rejects.toMatchObject({ status: 404, code: "api_key_not_found" });
    expect((await reportsIn(owner.workspace.id)).filter((e) => JSON.stringify(e.data).includes(created.id))).toEqual([]);
  });

  test("asks the security-definer api_key_exists_elsewhere: yes or no, never a row, owned by the owner role with its reason", async ({ db, identity, owner, ownerClaim, as, createKey }) => {
    const created = await createKey(ownerClaim, { role: "viewer" });
    const elsewhere = async (id: string, workspaceId: string) =>
      (await sql<{ found: boolean }>`select api_key_exists_elsewhere(${id}, ${workspaceId}) as found`.execute(db)).rows[0]?.found;
    const someOtherWorkspace = "0190f5a0-0000-7000-8000-0000000000aa";
    expect(await elsewhere(created.id, someOtherWorkspace)).toBe(true);
    expect(await elsewhere(created.id, owner.workspace.id)).toBe(false);
    expect(await elsewhere("0190f5a0-0000-7000-8000-00000000beef", someOtherWorkspace)).toBe(false);
    const fn = await sql<{ owner: string; definer: boolean; returns: string; comment: string | null }>`
      select pg_get_userbyid(p.proowner) as owner, p.prosecdef as definer, format_type(p.prorettype, null) as returns, obj_description(p.oid, 'pg_proc') as comment
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'identity' and p.proname = 'api_key_exists_elsewhere'`.execute(db);
    expect(fn.rows).toEqual([{ owner: "galaxy_identity_owner", definer: true, returns: "boolean", comment: expect.stringContaining("security.cross_workspace_attempt") }]);
  });
});

describe("the key look-up across workspaces", () => {
  test("is the security-definer api_key_by_hash, owned by the owner role with its reason", async ({ db, identity, owner, ownerClaim, as, createKey }) => {
    const created = await createKey(ownerClaim, { role: "viewer" });
    // Outside any workspace the login role sees no keys, but the look-up finds this one.
    expect(await db.selectFrom("api_keys").selectAll().execute()).toEqual([]);
    const hash = createHash("sha256").update(created.key).digest("hex");
    const found = await sql<{ id: string; workspace_id: string }>`select id, workspace_id from api_key_by_hash(${hash})`.execute(db);
    expect(found.rows).toEqual([{ id: created.id, workspace_id: owner.workspace.id }]);
    const fn = await sql<{ owner: string; definer: boolean; comment: string | null }>`
      select pg_get_userbyid(p.proowner) as owner, p.prosecdef as definer, obj_description(p.oid, 'pg_proc') as comment
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'identity' and p.proname = 'api_key_by_hash'`.execute(db);
    expect(fn.rows).toEqual([{ owner: "galaxy_identity_owner", definer: true, comment: expect.stringContaining("before the workspace is known") }]);
  });
});
