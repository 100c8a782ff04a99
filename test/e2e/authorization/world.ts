import { createHmac, randomUUID } from "node:crypto";
import { expect } from "vitest";
import { decodeJwt } from "jose";
import { z } from "zod";
import { ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_TYP, Agent, CLAIM_ISSUER, CreatedApiKey, CreatedTrigger, Execution, LoginResult, SignupResult } from "@galaxy/contracts";
import { sql, type Kysely } from "@galaxy/db";
import type { LocalOidcIssuer } from "@galaxy/testkit";
import { signWebhook } from "@galaxy/webhooks";
import { api, dataOf, eventually, identitySigner, type ApiResponse, type Galaxy } from "../harness";
import { AGENT_BODY, PASSWORD, WEBHOOK_SECRET, type PrincipalName, type World } from "./principals";

/** A set-up call that must answer `status`; anything else stops the set-up. */
export async function must(response: Promise<ApiResponse>, status: number, what: string): Promise<ApiResponse> {
  const r = await response;
  if (r.status !== status) throw new Error(`setup: ${what} answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r;
}

/**
 * The callers and the resources the cells act on: a workspace with an owner, an admin, a
 * member and a viewer, API keys of each role, an outsider's workspace, a system admin, and the
 * credentials no good any more (an expired token, a removed member's, a revoked and an expired
 * key). The expired key must expire first: building the world takes some ten seconds.
 */
export async function buildWorld(galaxy: Galaxy, issuer: LocalOidcIssuer, superuser: Kysely<unknown>): Promise<World> {
  let counter = 0;
  const freshEmail = () => `user-${++counter}-${randomUUID().slice(0, 8)}@matrix.example.com`;
  const signup = async (email: string) => dataOf(SignupResult, await must(api(galaxy, "POST", "/api/auth/signup", { body: { email, password: PASSWORD, name: email.split("@")[0], workspaceName: email.split("@")[0] } }), 201, `signup ${email}`));
  const login = async (email: string, workspaceId: string) => dataOf(LoginResult, await must(api(galaxy, "POST", "/api/auth/login", { body: { email, password: PASSWORD, workspaceId } }), 200, `login ${email}`)).accessToken;

  const owner = await signup("owner@matrix.example.com");
  const ws = owner.workspace.id;
  const addTo = async (token: string, email: string, role: string) => must(api(galaxy, "POST", "/api/members", { token, body: { email, role } }), 201, `add ${email} as ${role}`);
  const memberOf = async (role: "admin" | "member" | "viewer") => {
    const user = await signup(`${role}@matrix.example.com`);
    await addTo(owner.accessToken, user.user.email, role);
    return { id: user.user.id, token: await login(user.user.email, ws) };
  };
  const admin = await memberOf("admin");
  const member = await memberOf("member");
  const viewer = await memberOf("viewer");
  const key = async (role: string) => dataOf(CreatedApiKey, await must(api(galaxy, "POST", "/api/api-keys", { token: owner.accessToken, body: { name: `${role} key`, role } }), 201, `${role} key`)).key;
  /** Polls until `token` is refused on `GET /api/me` (the gateway may still hold its claim for a moment). */
  const refused = async (token: string, what: string) => eventually(async () => ((await api(galaxy, "GET", "/api/me", { token })).status === 401 ? true : undefined), 5_000, what);

  // An owner's key that expires shortly: it works now, and has expired before the matrix runs (waited out below).
  const expiring = dataOf(CreatedApiKey, await must(api(galaxy, "POST", "/api/api-keys", { token: owner.accessToken, body: { name: "expiring key", role: "owner", expiresAt: new Date(Date.now() + 8_000).toISOString() } }), 201, "an expiring key"));
  await must(api(galaxy, "GET", "/api/me", { token: expiring.key }), 200, "the expiring key before its expiry");
  // An owner's key, used (so a claim may be cached), then revoked.
  const revoked = dataOf(CreatedApiKey, await must(api(galaxy, "POST", "/api/api-keys", { token: owner.accessToken, body: { name: "revoked key", role: "owner" } }), 201, "a key to revoke"));
  await must(api(galaxy, "GET", "/api/me", { token: revoked.key }), 200, "the key before its revocation");
  await must(api(galaxy, "DELETE", `/api/api-keys/${revoked.id}`, { token: owner.accessToken }), 204, "revoke the key");
  await refused(revoked.key, "the revoked key refused");

  const outsider = await signup("outsider@matrix.example.com");
  const outsiderViewer = await signup("outsider-viewer@matrix.example.com");
  await addTo(outsider.accessToken, outsiderViewer.user.email, "viewer");

  // The flag is the CLI's to grant; here it is set where the CLI sets it, before the login that reads it.
  const sysadmin = await signup("sysadmin@matrix.example.com");
  await sql`update identity.users set system_admin = true where id = ${sysadmin.user.id}`.execute(superuser);
  const sysadminToken = await login(sysadmin.user.email, sysadmin.workspace.id);
  expect(decodeJwt(sysadminToken).sa).toBe(true);

  const stale = await signup("stale@matrix.example.com");
  await addTo(owner.accessToken, stale.user.email, "member");
  const staleToken = await login(stale.user.email, ws);
  expect((await api(galaxy, "GET", "/api/me", { token: staleToken })).status).toBe(200);
  await must(api(galaxy, "DELETE", `/api/members/${stale.user.id}`, { token: owner.accessToken }), 204, "remove the stale member");
  await eventually(async () => ((await api(galaxy, "GET", "/api/me", { token: staleToken })).status === 401 ? true : undefined), 2_000, "the stale token refused");

  const signer = await identitySigner(galaxy);
  const past = Math.floor(Date.now() / 1000) - 20 * 60;
  const expired = await signer.sign({ typ: ACCESS_TOKEN_TYP }, { iss: CLAIM_ISSUER, aud: ACCESS_TOKEN_AUDIENCE, sub: owner.user.id, ws, role: "owner", iat: past, exp: past + 15 * 60, jti: randomUUID() });

  const createAgent = async (token: string) => dataOf(Agent, await must(api(galaxy, "POST", "/api/agents", { token, body: AGENT_BODY }), 201, "create an agent")).id;
  const activeAgentId = await createAgent(owner.accessToken);
  await must(api(galaxy, "POST", `/api/agents/${activeAgentId}/activate`, { token: owner.accessToken }), 200, "activate");
  const execution = dataOf(Execution, await must(api(galaxy, "POST", `/api/agents/${activeAgentId}/executions`, { token: owner.accessToken, body: { input: { message: "hi" } } }), 202, "start"));
  const knowledgeBaseId = z.object({ data: z.object({ id: z.string() }) }).parse((await must(api(galaxy, "POST", "/api/knowledge-bases", { token: owner.accessToken, body: { name: "Matrix" } }), 201, "a knowledge base")).body).data.id;

  // The expiring key's expiry has passed (and no cached claim outlives it).
  await new Promise((r) => setTimeout(r, Math.max(0, new Date(expiring.expiresAt ?? 0).getTime() - Date.now())));
  await refused(expiring.key, "the expired key refused");

  const tokens: Record<PrincipalName, string | undefined> = {
    owner: owner.accessToken,
    admin: admin.token,
    member: member.token,
    viewer: viewer.token,
    "key:owner": await key("owner"),
    "key:admin": await key("admin"),
    "key:member": await key("member"),
    "key:viewer": await key("viewer"),
    outsider: outsider.accessToken,
    "outsider:viewer": await login(outsiderViewer.user.email, outsider.workspace.id),
    sysadmin: sysadminToken,
    expired,
    stale: staleToken,
    "key:revoked": revoked.key,
    "key:expired": expiring.key,
    none: undefined,
  };

  let hookTrigger: { id: string; secret: string } | undefined;
  const world: World = {
    galaxy,
    workspaceId: ws,
    ownerEmail: owner.user.email,
    tokens,
    activeAgentId,
    executionId: execution.id,
    async endedExecution() {
      await eventually(async () => {
        const current = dataOf(Execution, await api(galaxy, "GET", `/api/executions/${execution.id}`, { token: owner.accessToken }));
        return current.status === "queued" || current.status === "running" ? undefined : true;
      }, 10_000, "the world's execution to end");
      return execution.id;
    },
    knowledgeBaseId,
    freshEmail,
    async freshUser() {
      const user = await signup(freshEmail());
      return { id: user.user.id, email: user.user.email };
    },
    async freshMember(role) {
      const user = await this.freshUser();
      await addTo(owner.accessToken, user.email, role);
      return user.id;
    },
    async freshApiKey() {
      return dataOf(CreatedApiKey, await must(api(galaxy, "POST", "/api/api-keys", { token: owner.accessToken, body: { name: "to revoke", role: "viewer" } }), 201, "a key to revoke")).id;
    },
    async freshDraftAgent(by) {
      return createAgent(by === "owner" ? owner.accessToken : member.token);
    },
    async storeCredential(principal) {
      const home = principal === "outsider" || principal === "outsider:viewer" ? outsider.accessToken : principal === "sysadmin" ? sysadminToken : owner.accessToken;
      await must(api(galaxy, "PUT", "/api/provider-credentials/pinecone", { token: home, body: { apiKey: "pc-stored-for-delete" } }), 200, "store a credential");
    },
    async idToken(forged) {
      const sub = `user_${randomUUID()}`;
      return issuer.sign({ sub, email: `${sub}@oidc.example.com`, email_verified: true, name: "External" }, forged ? { key: await issuer.foreignKey() } : {});
    },
    async userSyncDelivery(signed) {
      const id = `user_${randomUUID()}`;
      const body = JSON.stringify({ type: "user.created", data: { id, email_addresses: [{ id: `idn_${id}`, email_address: `${id}@clerk.example.com`, verification: { status: "verified" } }], primary_email_address_id: `idn_${id}`, first_name: "Synced" } });
      const webhookId = `msg_${randomUUID()}`;
      const timestamp = String(Math.floor(Date.now() / 1000));
      const signature = createHmac("sha256", Buffer.from(WEBHOOK_SECRET.slice("whsec_".length), "base64")).update(`${webhookId}.${timestamp}.${body}`).digest("base64");
      const headers: Record<string, string> = signed ? { "webhook-id": webhookId, "webhook-timestamp": timestamp, "webhook-signature": `v1,${signature}` } : {};
      return { path: "/hooks/identity/clerk", body, headers };
    },
    async freshTrigger() {
      const created = dataOf(CreatedTrigger, await must(api(galaxy, "POST", `/api/agents/${activeAgentId}/triggers`, { token: owner.accessToken, body: { type: "webhook" } }), 201, "a webhook trigger"));
      return { id: created.id, agentId: activeAgentId, secret: created.secret ?? "" };
    },
    async webhookTrigger() {
      hookTrigger ??= await this.freshTrigger();
      return hookTrigger;
    },
    async triggerDelivery(signed) {
      hookTrigger = await this.webhookTrigger();
      const body = JSON.stringify({ message: "from the matrix" });
      const webhookId = `msg_${randomUUID()}`;
      const timestamp = Math.floor(Date.now() / 1000);
      const headers: Record<string, string> = signed ? { "webhook-id": webhookId, "webhook-timestamp": String(timestamp), "webhook-signature": signWebhook(hookTrigger.secret, webhookId, timestamp, body) } : {};
      return { path: `/hooks/${hookTrigger.id}`, body, headers };
    },
  };
  return world;
}

/** `METHOD path` of every operation in the gateway's `/openapi.json`. */
export async function documentedOperations(galaxy: Galaxy): Promise<Set<string>> {
  const openapi = z.object({ paths: z.record(z.string(), z.record(z.string(), z.unknown())) }).parse((await must(api(galaxy, "GET", "/openapi.json"), 200, "openapi")).body);
  return new Set(
    Object.entries(openapi.paths).flatMap(([path, operations]) =>
      Object.keys(operations)
        .filter((m) => ["get", "post", "put", "patch", "delete", "head", "options", "trace"].includes(m))
        .map((m) => `${m.toUpperCase()} ${path}`),
    ),
  );
}
