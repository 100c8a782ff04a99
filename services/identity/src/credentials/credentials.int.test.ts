import { randomBytes } from "node:crypto";
import { describe, expect } from "vitest";
import { GalaxyError, type SignupResult } from "@galaxy/contracts";
import { inWorkspace, OutboxRelay, sql, type Kysely } from "@galaxy/db";
import { testLogger } from "@galaxy/testkit";
import { type IdentityService } from "../app";
import { SecretBox } from "@galaxy/secrets";
import type { IdentityDb } from "../db";
import { identityTest, startIdentityFirst } from "../../test/fixtures";
import { SigningKeys } from "../keys/signing-keys";
import { CredentialsService, resealCredentials } from "./credentials.service";

const KEY = "sk-proj-credentials-test-9f3a";

/**
 * The file's helpers on identity, its database and `owner`, the user who signed up with the
 * workspace "Keys", and `ownerClaim`, their claim there: each a file fixture below.
 */
function helpersOn(identity: IdentityService, db: Kysely<IdentityDb>, owner: SignupResult, ownerClaim: string) {
  const ws = () => owner.workspace.id;
  const asOwner = () => ({ claim: ownerClaim, workspaceId: ws() });
  const serviceClaim = async (service: string) => ({ claim: (await identity.auth.issueServiceClaim(ws(), service)).claim, workspaceId: ws() });
  const userClaim = async (role: "viewer" | "member" | "admin" | "owner", act: "user" | "api_key" | "operator" = "user") => ({
    claim: (await identity.keys.signClaim({ workspaceId: ws(), sub: owner.user.id, act, role, expiresAt: Math.floor(Date.now() / 1000) + 60 })).claim,
    workspaceId: ws(),
  });
  const rows = () => inWorkspace(db, ws(), (tx) => tx.selectFrom("provider_credentials").selectAll().execute());
  const outbox = () => inWorkspace(db, ws(), (tx) => tx.selectFrom("outbox").select(["type", "payload", "context"]).where("type", "like", "provider_credential.%").orderBy("id").execute());

  return { ws, asOwner, serviceClaim, userClaim, rows, outbox };
}

/** identity's fixtures; `owner` and `ownerClaim`, both before the file's first test; the file's helpers (helpersOn). */
const test = identityTest()
  .extend("owner", { scope: "file" }, async ({ gateway }) =>
    gateway.request("identity.auth.signup", { email: "keys@example.com", password: "correct horse battery", name: "K", workspaceName: "Keys" }))
  .extend("ownerClaim", { scope: "file" }, async ({ gateway, owner }) => (await gateway.request("identity.claims.issue", { accessToken: owner.accessToken })).claim)
  .extend("helpers", { scope: "file" }, async ({ identity, db, owner, ownerClaim }) => helpersOn(identity, db, owner, ownerClaim))
  .extend("ws", { scope: "file" }, async ({ helpers }) => helpers.ws)
  .extend("asOwner", { scope: "file" }, async ({ helpers }) => helpers.asOwner)
  .extend("serviceClaim", { scope: "file" }, async ({ helpers }) => helpers.serviceClaim)
  .extend("userClaim", { scope: "file" }, async ({ helpers }) => helpers.userClaim)
  .extend("rows", { scope: "file" }, async ({ helpers }) => helpers.rows)
  .extend("outbox", { scope: "file" }, async ({ helpers }) => helpers.outbox);
startIdentityFirst(test);
test.beforeAll(async ({ ownerClaim }) => {
  void ownerClaim;
});

describe("provider credentials", () => {
  test("put stores the key sealed and answers only its last four characters", async ({ env, gateway, owner, asOwner, rows }) => {
    const stored = await gateway.request("identity.credentials.put", { provider: "openai", apiKey: KEY, baseUrl: "https://llm-proxy.example.com/v1" }, asOwner());
    expect(stored).toEqual({ provider: "openai", last4: "9f3a", updatedAt: expect.any(String) });
    expect(JSON.stringify(stored)).not.toContain(KEY);
    const [row] = await rows();
    expect(row).toMatchObject({ provider: "openai", last4: "9f3a", base_url: "https://llm-proxy.example.com/v1", updated_by: owner.user.id });
    expect(row?.ciphertext).not.toContain(KEY);
    expect(row?.ciphertext).not.toContain(Buffer.from(KEY).toString("base64"));
    expect(row?.ciphertext.startsWith(`v1.${row.key_id}.`)).toBe(true);
    expect(row?.key_id).toBe(new SecretBox(env.masterKey).keyId);
  });

  test("list shows provider, last4, baseUrl and time, never the key", async ({ gateway, asOwner }) => {
    const page = await gateway.request("identity.credentials.list", {}, asOwner());
    expect(page.items).toEqual([{ provider: "openai", last4: "9f3a", baseUrl: "https://llm-proxy.example.com/v1", updatedAt: expect.any(String) }]);
    expect(page.pagination).toMatchObject({ total: 1, hasMore: false });
    expect(JSON.stringify(page)).not.toContain(KEY);
  });

  test("put again replaces the key; the event names provider, last4 and baseUrl, never the key", async ({ gateway, asOwner, rows, outbox }) => {
    await gateway.request("identity.credentials.put", { provider: "openai", apiKey: `${KEY}-v2-77aa` }, asOwner());
    const [row] = await rows();
    expect(row).toMatchObject({ last4: "77aa", base_url: null });
    const events = await outbox();
    expect(events.map((e) => e.type)).toEqual(["provider_credential.updated", "provider_credential.updated"]);
    expect(events[1]?.payload).toMatchObject({ data: { provider: "openai", last4: "77aa", baseUrl: null } });
    expect(JSON.stringify(events)).not.toContain(KEY);
  });

  test("only admins and owners may manage credentials", async ({ gateway, serviceClaim, userClaim }) => {
    for (const role of ["viewer", "member"] as const) {
      await expect(gateway.request("identity.credentials.list", {}, await userClaim(role))).rejects.toMatchObject({ status: 403 });
      await expect(gateway.request("identity.credentials.put", { provider: "anthropic", apiKey: "sk-ant-12345678" }, await userClaim(role))).rejects.toMatchObject({ status: 403 });
      await expect(gateway.request("identity.credentials.delete", { provider: "openai" }, await userClaim(role))).rejects.toMatchObject({ status: 403 });
    }
    await expect(gateway.request("identity.credentials.list", {}, await userClaim("admin"))).resolves.toMatchObject({ items: [{ provider: "openai" }] });
    await expect(gateway.request("identity.credentials.list", {}, await serviceClaim("execution-worker"))).rejects.toMatchObject({ status: 403 });
  });

  test("a bad provider, a short key or a base URL with credentials in it is a 400", async ({ gateway, asOwner }) => {
    await expect(gateway.request("identity.credentials.put", { provider: "cohere", apiKey: "sk-12345678" }, asOwner())).rejects.toMatchObject({ status: 400, details: { provider: expect.any(String) } });
    await expect(gateway.request("identity.credentials.put", { provider: "openai", apiKey: "short" }, asOwner())).rejects.toMatchObject({ status: 400, details: { apiKey: expect.any(String) } });
    await expect(gateway.request("identity.credentials.put", { provider: "openai", apiKey: "sk-12345678", baseUrl: "https://u:p@example.com" }, asOwner())).rejects.toMatchObject({ status: 400 });
    await expect(gateway.request("identity.credentials.put", { provider: "openai", apiKey: "sk-12345678", baseUrl: "file:///etc/passwd" }, asOwner())).rejects.toMatchObject({ status: 400 });
  });
});

describe("resolving a credential", () => {
  test("the execution worker's service claim gets the key and base URL", async ({ gateway, asOwner, serviceClaim }) => {
    await gateway.request("identity.credentials.put", { provider: "anthropic", apiKey: "sk-ant-resolve-0042", baseUrl: "https://anthropic.example.com" }, asOwner());
    await expect(gateway.request("identity.credentials.resolve", { provider: "anthropic" }, await serviceClaim("execution-worker"))).resolves.toEqual({
      apiKey: "sk-ant-resolve-0042",
      baseUrl: "https://anthropic.example.com",
    });
  });

  test("a user claim is refused whatever its role, and so are API keys, operators and other services", async ({ gateway, serviceClaim, userClaim }) => {
    for (const role of ["viewer", "admin", "owner"] as const) {
      const refused = await gateway.request("identity.credentials.resolve", { provider: "anthropic" }, await userClaim(role)).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(GalaxyError);
      expect(refused).toMatchObject({ status: 403, code: "forbidden" });
      expect(JSON.stringify(refused)).not.toContain("sk-ant");
    }
    await expect(gateway.request("identity.credentials.resolve", { provider: "anthropic" }, await userClaim("owner", "api_key"))).rejects.toMatchObject({ status: 403 });
    await expect(gateway.request("identity.credentials.resolve", { provider: "anthropic" }, await userClaim("owner", "operator"))).rejects.toMatchObject({ status: 403 });
    await expect(gateway.request("identity.credentials.resolve", { provider: "anthropic" }, await serviceClaim("audit"))).rejects.toMatchObject({ status: 403 });
    // The registry resolves the keys of knowledge bases (OpenAI, Pinecone), never the Anthropic key.
    await expect(gateway.request("identity.credentials.resolve", { provider: "anthropic" }, await serviceClaim("agent-registry"))).rejects.toMatchObject({ status: 403 });
    await expect(gateway.request("identity.credentials.resolve", { provider: "anthropic" })).rejects.toMatchObject({ status: 401, code: "claim_missing" });
  });

  test("a Google (Gemini) key is stored sealed and resolved for the worker and the registry alike", async ({ gateway, asOwner, serviceClaim, rows }) => {
    const shown = await gateway.request("identity.credentials.put", { provider: "google", apiKey: "AIzaSy-google-resolve-0044" }, asOwner());
    expect(shown).toMatchObject({ provider: "google", last4: "0044" });
    const [row] = (await rows()).filter((one) => one.provider === "google");
    expect(row?.ciphertext).not.toContain("AIzaSy");
    expect(JSON.stringify(await gateway.request("identity.credentials.list", {}, asOwner()))).not.toContain("AIzaSy");
    for (const service of ["execution-worker", "agent-registry"]) {
      await expect(gateway.request("identity.credentials.resolve", { provider: "google" }, await serviceClaim(service))).resolves.toEqual({ apiKey: "AIzaSy-google-resolve-0044", baseUrl: null });
    }
    await expect(gateway.request("identity.credentials.resolve", { provider: "google" }, await serviceClaim("audit"))).rejects.toMatchObject({ status: 403 });
    await gateway.request("identity.credentials.delete", { provider: "google" }, asOwner());
  });

  test("the registry's service claim gets the OpenAI and Pinecone keys (knowledge bases)", async ({ gateway, asOwner, serviceClaim }) => {
    await gateway.request("identity.credentials.put", { provider: "pinecone", apiKey: "pc-registry-resolve-0043" }, asOwner());
    await expect(gateway.request("identity.credentials.resolve", { provider: "pinecone" }, await serviceClaim("agent-registry"))).resolves.toEqual({ apiKey: "pc-registry-resolve-0043", baseUrl: null });
    await gateway.request("identity.credentials.delete", { provider: "pinecone" }, asOwner());
  });

  test("no credential for the provider is a 404 credential_not_found", async ({ gateway, serviceClaim }) => {
    await expect(gateway.request("identity.credentials.resolve", { provider: "pinecone" }, await serviceClaim("execution-worker"))).rejects.toMatchObject({
      status: 404,
      code: "credential_not_found",
    });
  });

  test("another workspace's service claim does not see this workspace's key", async ({ gateway, identity }) => {
    const other = await gateway.request("identity.auth.signup", { email: "other@example.com", password: "correct horse battery", name: "O", workspaceName: "Other" });
    const claim = (await identity.auth.issueServiceClaim(other.workspace.id, "execution-worker")).claim;
    await expect(gateway.request("identity.credentials.resolve", { provider: "anthropic" }, { claim, workspaceId: other.workspace.id })).rejects.toMatchObject({ status: 404 });
  });

  test("delete removes it: resolve is then a 404, a second delete too, and the event holds no key", async ({ gateway, asOwner, serviceClaim, outbox }) => {
    await expect(gateway.request("identity.credentials.delete", { provider: "anthropic" }, asOwner())).resolves.toEqual({});
    await expect(gateway.request("identity.credentials.resolve", { provider: "anthropic" }, await serviceClaim("execution-worker"))).rejects.toMatchObject({ status: 404 });
    await expect(gateway.request("identity.credentials.delete", { provider: "anthropic" }, asOwner())).rejects.toMatchObject({ status: 404, code: "credential_not_found" });
    const events = await outbox();
    expect(events.at(-1)).toMatchObject({ type: "provider_credential.deleted", payload: { data: { provider: "anthropic" } } });
    expect(JSON.stringify(events)).not.toContain("sk-ant");
  });
});

describe("master key rotation", () => {
  test("a row sealed under the previous key still resolves, and is sealed again under the current one", async ({ env, db, bus, identity, owner, ws, rows }) => {
    const relay = new OutboxRelay({ db, publish: (row) => bus.publishEvent(row), logger: testLogger("identity") });
    const newKey = randomBytes(32).toString("base64");
    const rotatedBox = new SecretBox(newKey, [env.masterKey]);
    const rotated = new CredentialsService({ db, box: rotatedBox, relay });
    const ownerGrant = await identity.auth.issueClaim(owner.accessToken);
    const claimOf = async (token: string) => bus.claims.verify(token, { checkExpiry: true });
    const service = await claimOf((await identity.auth.issueServiceClaim(ws(), "execution-worker")).claim);

    const before = (await rows()).find((r) => r.provider === "openai");
    expect(before?.key_id).toBe(new SecretBox(env.masterKey).keyId);
    expect(await rotated.resolve({ provider: "openai" }, service)).toEqual({ apiKey: `${KEY}-v2-77aa`, baseUrl: null });
    const after = (await rows()).find((r) => r.provider === "openai");
    expect(after?.key_id).toBe(rotatedBox.keyId);
    expect(after?.ciphertext).not.toBe(before?.ciphertext);

    // The old key alone no longer opens it; the new key alone does.
    const withOldKeyOnly = new CredentialsService({ db, box: new SecretBox(env.masterKey), relay });
    await expect(withOldKeyOnly.resolve({ provider: "openai" }, service)).rejects.toThrow(/neither GALAXY_MASTER_KEY .* nor one in GALAXY_MASTER_KEY_PREVIOUS/);
    const withNewKeyOnly = new CredentialsService({ db, box: new SecretBox(newKey), relay });
    await expect(withNewKeyOnly.resolve({ provider: "openai" }, service)).resolves.toMatchObject({ apiKey: `${KEY}-v2-77aa` });

    // Writes seal with the current key.
    const ownerClaimParsed = await claimOf(ownerGrant.claim);
    await rotated.put({ provider: "pinecone", apiKey: "pcsk-rotation-5555" }, { claim: ownerClaimParsed, eventContext: () => ({ claim: ownerGrant.claim, traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", correlationId: "c", causationId: "c" }) });
    expect((await rows()).find((r) => r.provider === "pinecone")?.key_id).toBe(rotatedBox.keyId);
    await relay.stop();
  });

  test("the start-up routine seals every row of an older key again, in every workspace, and leaves what it cannot open", async ({ env, db, bus, gateway }) => {
    const other = await gateway.request("identity.auth.signup", { email: "rotation@example.com", password: "correct horse battery", name: "R", workspaceName: "Rotation" });
    const otherClaim = (await gateway.request("identity.claims.issue", { accessToken: other.accessToken })).claim;
    const as = { claim: otherClaim, workspaceId: other.workspace.id };
    await gateway.request("identity.credentials.put", { provider: "openai", apiKey: "sk-rotate-openai-1111" }, as);
    await gateway.request("identity.credentials.put", { provider: "anthropic", apiKey: "sk-rotate-anthropic-2222" }, as);
    // A row sealed by a key that nobody configures any more.
    const relay = new OutboxRelay({ db, publish: (row) => bus.publishEvent(row), logger: testLogger("identity") });
    const stranger = new CredentialsService({ db, box: new SecretBox(randomBytes(32).toString("base64")), relay });
    const parsed = await bus.claims.verify(otherClaim, { checkExpiry: true });
    await stranger.put({ provider: "pinecone", apiKey: "pcsk-lost-3333" }, { claim: parsed, eventContext: () => ({ claim: otherClaim, traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", correlationId: "c", causationId: "c" }) });
    await relay.stop();

    const rotated = new SecretBox(randomBytes(32).toString("base64"), [env.masterKey]);
    const result = await resealCredentials({ db, box: rotated });
    expect(result.resealed).toBeGreaterThanOrEqual(2);
    expect(result.failed).toBeGreaterThanOrEqual(1);
    const after = await inWorkspace(db, other.workspace.id, (tx) => tx.selectFrom("provider_credentials").select(["provider", "key_id", "ciphertext"]).orderBy("provider").execute());
    expect(after.map((row) => [row.provider, row.key_id === rotated.keyId])).toEqual([["anthropic", true], ["openai", true], ["pinecone", false]]);
    expect(after.map((row) => (row.provider === "pinecone" ? null : rotated.open(row.ciphertext)))).toEqual(["sk-rotate-anthropic-2222", "sk-rotate-openai-1111", null]);
    // A second run finds nothing more it can do.
    expect((await resealCredentials({ db, box: rotated })).resealed).toBe(0);
  });

  test("its cross-workspace read is the security-definer provider_credentials_to_reseal, owned by the owner role, with its reason", async ({ db }) => {
    const fn = await sql<{ owner: string; definer: boolean; comment: string | null }>`
      select pg_get_userbyid(p.proowner) as owner, p.prosecdef as definer, obj_description(p.oid, 'pg_proc') as comment
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'identity' and p.proname = 'provider_credentials_to_reseal'`.execute(db);
    expect(fn.rows).toEqual([{ owner: "galaxy_identity_owner", definer: true, comment: expect.stringContaining("GALAXY_MASTER_KEY rotates") }]);
    // Ids only: the function never hands out a ciphertext.
    const columns = await sql<{ provider: string; workspace_id: string }>`select * from provider_credentials_to_reseal('none', 10)`.execute(db);
    expect(Object.keys(columns.rows[0] ?? {}).sort()).toEqual(["provider", "workspace_id"]);
  });

  test("identity's start seals the active signing key again under the new master key, and it still signs", async ({ env, db, bus, ws }) => {
    const rotated = new SecretBox(randomBytes(32).toString("base64"), [env.masterKey]);
    const keys = new SigningKeys(db, rotated);
    await keys.load();
    const active = await db.selectFrom("signing_keys").select(["private_jwk_ciphertext"]).where("status", "=", "active").executeTakeFirstOrThrow();
    expect(SecretBox.keyIdOf(active.private_jwk_ciphertext)).toBe(rotated.keyId);
    const { claim } = await keys.signClaim({ workspaceId: ws(), sub: "execution-worker", act: "service", role: "admin", expiresAt: Math.floor(Date.now() / 1000) + 60 });
    await expect(bus.claims.verify(claim, { checkExpiry: true })).resolves.toMatchObject({ ws: ws() });
    // The new master key alone opens it now.
    await expect(new SigningKeys(db, new SecretBox(env.masterKey)).refresh()).rejects.toThrow(/neither GALAXY_MASTER_KEY .* nor one in GALAXY_MASTER_KEY_PREVIOUS/);
  });
});
