import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { decodeJwt } from "jose";
import { z } from "zod";
import { ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_TYP, Agent, CLAIM_ISSUER, CreatedApiKey, CreatedTrigger, ErrorBody, Execution, LoginResult, SignupResult } from "@galaxy/contracts";
import { createDb, sql, SERVICE_SCHEMAS, type Kysely } from "@galaxy/db";
import { startLocalOidcIssuer, type LocalOidcIssuer } from "@galaxy/testkit";
import { signWebhook } from "@galaxy/webhooks";
import { api, dataOf, eventually, identitySigner, startGalaxy, type ApiResponse, type Galaxy } from "./harness";

/**
 * The authorization matrix (docs/api.md): every endpoint of the gateway × every kind of caller
 * → the status it gets, from the one table `ROWS` below. Each cell is its own test with its
 * own fresh resources where a success would use them up. For every refused write, the
 * database (every table of every schema, read as the superuser, but for what changes on its
 * own: see `fingerprint`) is the same after as before.
 *
 * The endpoint list is the running gateway's `/openapi.json`: an endpoint without a row fails
 * "the table covers every endpoint", so a new endpoint needs its row here.
 */

const PRINCIPALS = [
  "owner",
  "admin",
  "member",
  "viewer",
  "key:owner",
  "key:admin",
  "key:member",
  "key:viewer",
  /** The owner of another workspace. */
  "outsider",
  /** A viewer of another workspace: proves a foreign resource is a 404 before any role check. */
  "outsider:viewer",
  /** A user with the `system_admin` flag, owner of its own workspace and member of no other. */
  "sysadmin",
  /** The owner's access token, signed by identity, past its expiry. */
  "expired",
  /** A member's token issued before the member was removed. */
  "stale",
  /** An API key of the owner's, revoked. */
  "key:revoked",
  /** An API key of the owner's, past its `expiresAt`. */
  "key:expired",
  "none",
] as const;
type PrincipalName = (typeof PRINCIPALS)[number];

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
const WRITES: ReadonlySet<Method> = new Set<Method>(["POST", "PUT", "PATCH", "DELETE"]);

/** What one cell sends: the concrete path and body, after setting up what it needs. */
interface CellRequest {
  path: string;
  /** JSON, or a string sent as it is (a signed webhook's exact bytes). */
  body?: unknown;
  headers?: Record<string, string>;
}

interface Row {
  method: Method;
  /** The path as `/openapi.json` names it. */
  path: string;
  /** Several rows may share an endpoint, for resources or bodies that decide differently (an owner's agent, a member's). */
  variant?: string;
  /** `public`: the route reads no bearer credential; `bearer`: it authenticates first, so a bad credential is its 401. */
  auth: "public" | "bearer";
  /** Not in `/openapi.json` by design (`hide: true`): health, metrics, the docs themselves. */
  hidden?: boolean;
  /** One status per principal, in the order of `PRINCIPALS`. */
  expect: readonly number[];
  request: (world: World, principal: PrincipalName) => Promise<CellRequest>;
}

/**
 * Rows of endpoints other engineers are adding: while such a path is not in `/openapi.json`,
 * each of its cells asserts the route is absent (404 `route_not_found`); once it is, the cells
 * hold it to its row, and "the table" fails until the entry is removed from here. Keep it tiny.
 */
const PENDING: ReadonlySet<string> = new Set<string>([]);

const ALL = (status: number) => PRINCIPALS.map(() => status);
/** The principals whose credential is no good: 401 on every bearer endpoint. */
const UNAUTHENTICATED: ReadonlySet<PrincipalName> = new Set<PrincipalName>(["expired", "stale", "key:revoked", "key:expired", "none"]);
const ANY_MEMBER = (status: number) => PRINCIPALS.map((p) => (UNAUTHENTICATED.has(p) ? 401 : status));

// Columns:                            owner admin member viewer | keys: owner admin member viewer | outsider o:viewer sysadmin | expired stale key:revoked key:expired none
const ROWS: readonly Row[] = [
  // Auth and keys: public, or the caller's own account.
  { method: "POST", path: "/api/auth/signup", auth: "public", expect: ALL(201), request: async (w) => ({ path: "/api/auth/signup", body: { email: w.freshEmail(), password: PASSWORD, name: "New", workspaceName: "New" } }) },
  { method: "POST", path: "/api/auth/login", auth: "public", expect: ALL(200), request: async (w) => ({ path: "/api/auth/login", body: { email: w.ownerEmail, password: PASSWORD } }) },
  { method: "POST", path: "/api/auth/switch", auth: "bearer", expect: [200, 200, 200, 200, 403, 403, 403, 403, 404, 404, 404, 401, 401, 401, 401, 401], request: async (w) => ({ path: "/api/auth/switch", body: { workspaceId: w.workspaceId } }) },
  { method: "GET", path: "/api/me", auth: "bearer", expect: ANY_MEMBER(200), request: async () => ({ path: "/api/me" }) },
  { method: "GET", path: "/.well-known/jwks.json", auth: "public", expect: ALL(200), request: async () => ({ path: "/.well-known/jwks.json" }) },
  // Public: the bearer header plays no part; the ID token decides.
  { method: "POST", path: "/api/auth/exchange", variant: "a token of the configured issuer", auth: "public", expect: ALL(200), request: async (w) => ({ path: "/api/auth/exchange", body: { idToken: await w.idToken(false) } }) },
  { method: "POST", path: "/api/auth/exchange", variant: "a token signed by another key", auth: "public", expect: ALL(401), request: async (w) => ({ path: "/api/auth/exchange", body: { idToken: await w.idToken(true) } }) },
  { method: "POST", path: "/hooks/identity/clerk", variant: "signed", auth: "public", expect: ALL(200), request: async (w) => w.userSyncDelivery(true) },
  { method: "POST", path: "/hooks/identity/clerk", variant: "unsigned", auth: "public", expect: ALL(401), request: async (w) => w.userSyncDelivery(false) },
  // Webhook triggers' deliveries: the signature decides, never a bearer credential.
  { method: "POST", path: "/hooks/{triggerId}", variant: "signed", auth: "public", expect: ALL(202), request: async (w) => w.triggerDelivery(true) },
  { method: "POST", path: "/hooks/{triggerId}", variant: "unsigned", auth: "public", expect: ALL(401), request: async (w) => w.triggerDelivery(false) },

  // Workspaces.
  { method: "POST", path: "/api/workspaces", auth: "bearer", expect: [201, 201, 201, 201, 403, 403, 403, 403, 201, 201, 201, 401, 401, 401, 401, 401], request: async () => ({ path: "/api/workspaces", body: { name: "Another" } }) },
  { method: "GET", path: "/api/workspaces", auth: "bearer", expect: [200, 200, 200, 200, 403, 403, 403, 403, 200, 200, 200, 401, 401, 401, 401, 401], request: async () => ({ path: "/api/workspaces" }) },
  { method: "GET", path: "/api/workspace", auth: "bearer", expect: ANY_MEMBER(200), request: async () => ({ path: "/api/workspace" }) },
  {
    method: "PATCH",
    path: "/api/workspace",
    auth: "bearer",
    expect: [200, 200, 403, 403, 200, 200, 403, 403, 200, 403, 200, 401, 401, 401, 401, 401],
    request: async (_w, p) => ({ path: "/api/workspace", body: { name: `Renamed by ${p}`, settings: { by: p } } }),
  },

  // Members.
  { method: "GET", path: "/api/members", auth: "bearer", expect: ANY_MEMBER(200), request: async () => ({ path: "/api/members" }) },
  {
    method: "POST",
    path: "/api/members",
    variant: "as viewer",
    auth: "bearer",
    expect: [201, 201, 403, 403, 201, 201, 403, 403, 201, 403, 201, 401, 401, 401, 401, 401],
    request: async (w) => ({ path: "/api/members", body: { email: (await w.freshUser()).email, role: "viewer" } }),
  },
  {
    method: "POST",
    path: "/api/members",
    variant: "as owner",
    auth: "bearer",
    expect: [201, 403, 403, 403, 201, 403, 403, 403, 201, 403, 201, 401, 401, 401, 401, 401],
    request: async (w) => ({ path: "/api/members", body: { email: (await w.freshUser()).email, role: "owner" } }),
  },
  {
    method: "PATCH",
    path: "/api/members/{userId}",
    variant: "a viewer, to member",
    auth: "bearer",
    expect: [200, 200, 403, 403, 200, 200, 403, 403, 404, 404, 404, 401, 401, 401, 401, 401],
    request: async (w) => ({ path: `/api/members/${await w.freshMember("viewer")}`, body: { role: "member" } }),
  },
  {
    method: "PATCH",
    path: "/api/members/{userId}",
    variant: "an owner, to admin",
    auth: "bearer",
    expect: [200, 403, 403, 403, 200, 403, 403, 403, 404, 404, 404, 401, 401, 401, 401, 401],
    request: async (w) => ({ path: `/api/members/${await w.freshMember("owner")}`, body: { role: "admin" } }),
  },
  {
    method: "DELETE",
    path: "/api/members/{userId}",
    variant: "a viewer",
    auth: "bearer",
    expect: [204, 204, 403, 403, 204, 204, 403, 403, 404, 404, 404, 401, 401, 401, 401, 401],
    request: async (w) => ({ path: `/api/members/${await w.freshMember("viewer")}` }),
  },
  {
    method: "DELETE",
    path: "/api/members/{userId}",
    variant: "an owner",
    auth: "bearer",
    expect: [204, 403, 403, 403, 204, 403, 403, 403, 404, 404, 404, 401, 401, 401, 401, 401],
    request: async (w) => ({ path: `/api/members/${await w.freshMember("owner")}` }),
  },

  // API keys: admins and owners, never a key.
  { method: "POST", path: "/api/api-keys", auth: "bearer", expect: [201, 201, 403, 403, 403, 403, 403, 403, 201, 403, 201, 401, 401, 401, 401, 401], request: async () => ({ path: "/api/api-keys", body: { name: "matrix", role: "viewer" } }) },
  { method: "GET", path: "/api/api-keys", auth: "bearer", expect: [200, 200, 403, 403, 403, 403, 403, 403, 200, 403, 200, 401, 401, 401, 401, 401], request: async () => ({ path: "/api/api-keys" }) },
  { method: "DELETE", path: "/api/api-keys/{id}", auth: "bearer", expect: [204, 204, 403, 403, 403, 403, 403, 403, 404, 404, 404, 401, 401, 401, 401, 401], request: async (w) => ({ path: `/api/api-keys/${await w.freshApiKey()}` }) },

  // Provider credentials: admins and owners (and keys of those roles), in the caller's own workspace.
  {
    method: "PUT",
    path: "/api/provider-credentials/{provider}",
    auth: "bearer",
    expect: [200, 200, 403, 403, 200, 200, 403, 403, 200, 403, 200, 401, 401, 401, 401, 401],
    request: async (_w, p) => ({ path: "/api/provider-credentials/pinecone", body: { apiKey: `pc-matrix-${p.replace(":", "-")}-key` } }),
  },
  { method: "GET", path: "/api/provider-credentials", auth: "bearer", expect: [200, 200, 403, 403, 200, 200, 403, 403, 200, 403, 200, 401, 401, 401, 401, 401], request: async () => ({ path: "/api/provider-credentials" }) },
  {
    method: "DELETE",
    path: "/api/provider-credentials/{provider}",
    auth: "bearer",
    expect: [204, 204, 403, 403, 204, 204, 403, 403, 204, 403, 204, 401, 401, 401, 401, 401],
    request: async (w, p) => {
      await w.storeCredential(p);
      return { path: "/api/provider-credentials/pinecone" };
    },
  },

  // Agents and executions.
  { method: "POST", path: "/api/agents", auth: "bearer", expect: [201, 201, 201, 403, 201, 201, 201, 403, 201, 403, 201, 401, 401, 401, 401, 401], request: async () => ({ path: "/api/agents", body: AGENT_BODY }) },
  { method: "GET", path: "/api/agents", auth: "bearer", expect: ANY_MEMBER(200), request: async () => ({ path: "/api/agents" }) },
  { method: "GET", path: "/api/agents/{id}", auth: "bearer", expect: [200, 200, 200, 200, 200, 200, 200, 200, 404, 404, 404, 401, 401, 401, 401, 401], request: async (w) => ({ path: `/api/agents/${w.activeAgentId}` }) },
  {
    method: "POST",
    path: "/api/agents/{id}/activate",
    variant: "the owner's draft",
    auth: "bearer",
    // A key owns only what it created itself (docs/decisions/0007): the owner's member key may not activate the owner's agent.
    expect: [200, 200, 403, 403, 200, 200, 403, 403, 404, 404, 404, 401, 401, 401, 401, 401],
    request: async (w) => ({ path: `/api/agents/${await w.freshDraftAgent("owner")}/activate` }),
  },
  {
    method: "POST",
    path: "/api/agents/{id}/activate",
    variant: "the member's draft",
    auth: "bearer",
    expect: [200, 200, 200, 403, 200, 200, 403, 403, 404, 404, 404, 401, 401, 401, 401, 401],
    request: async (w) => ({ path: `/api/agents/${await w.freshDraftAgent("member")}/activate` }),
  },
  {
    method: "PATCH",
    path: "/api/agents/{id}",
    variant: "the owner's agent",
    auth: "bearer",
    expect: [200, 200, 403, 403, 200, 200, 403, 403, 404, 404, 404, 401, 401, 401, 401, 401],
    request: async (w, p) => ({ path: `/api/agents/${await w.freshDraftAgent("owner")}`, body: { description: `Changed by ${p}` } }),
  },
  {
    method: "PATCH",
    path: "/api/agents/{id}",
    variant: "the member's agent",
    auth: "bearer",
    expect: [200, 200, 200, 403, 200, 200, 403, 403, 404, 404, 404, 401, 401, 401, 401, 401],
    request: async (w, p) => ({ path: `/api/agents/${await w.freshDraftAgent("member")}`, body: { description: `Changed by ${p}` } }),
  },
  {
    method: "POST",
    path: "/api/agents/{id}/pause",
    variant: "the owner's agent",
    auth: "bearer",
    expect: [200, 200, 403, 403, 200, 200, 403, 403, 404, 404, 404, 401, 401, 401, 401, 401],
    request: async (w) => ({ path: `/api/agents/${await activated(w, "owner")}/pause` }),
  },
  {
    method: "POST",
    path: "/api/agents/{id}/pause",
    variant: "the member's agent",
    auth: "bearer",
    expect: [200, 200, 200, 403, 200, 200, 403, 403, 404, 404, 404, 401, 401, 401, 401, 401],
    request: async (w) => ({ path: `/api/agents/${await activated(w, "member")}/pause` }),
  },
  {
    method: "DELETE",
    path: "/api/agents/{id}",
    variant: "the owner's agent",
    auth: "bearer",
    expect: [204, 204, 403, 403, 204, 204, 403, 403, 404, 404, 404, 401, 401, 401, 401, 401],
    request: async (w) => ({ path: `/api/agents/${await w.freshDraftAgent("owner")}` }),
  },
  {
    method: "DELETE",
    path: "/api/agents/{id}",
    variant: "the member's agent",
    auth: "bearer",
    expect: [204, 204, 204, 403, 204, 204, 403, 403, 404, 404, 404, 401, 401, 401, 401, 401],
    request: async (w) => ({ path: `/api/agents/${await w.freshDraftAgent("member")}` }),
  },
  // Triggers: viewers read them; who may edit the agent manages them (a key: only what it created).
  {
    method: "POST",
    path: "/api/agents/{id}/triggers",
    variant: "the owner's agent",
    auth: "bearer",
    expect: [201, 201, 403, 403, 201, 201, 403, 403, 404, 404, 404, 401, 401, 401, 401, 401],
    request: async (w) => ({ path: `/api/agents/${w.activeAgentId}/triggers`, body: { type: "webhook" } }),
  },
  {
    method: "POST",
    path: "/api/agents/{id}/triggers",
    variant: "the member's agent, a schedule",
    auth: "bearer",
    expect: [201, 201, 201, 403, 201, 201, 403, 403, 404, 404, 404, 401, 401, 401, 401, 401],
    request: async (w) => ({ path: `/api/agents/${await w.freshDraftAgent("member")}/triggers`, body: { type: "schedule", cron: "0 0 1 1 *" } }),
  },
  { method: "GET", path: "/api/agents/{id}/triggers", auth: "bearer", expect: [200, 200, 200, 200, 200, 200, 200, 200, 404, 404, 404, 401, 401, 401, 401, 401], request: async (w) => ({ path: `/api/agents/${w.activeAgentId}/triggers` }) },
  {
    method: "DELETE",
    path: "/api/agents/{id}/triggers/{triggerId}",
    auth: "bearer",
    expect: [204, 204, 403, 403, 204, 204, 403, 403, 404, 404, 404, 401, 401, 401, 401, 401],
    request: async (w) => {
      const trigger = await w.freshTrigger();
      return { path: `/api/agents/${trigger.agentId}/triggers/${trigger.id}` };
    },
  },
  {
    method: "POST",
    path: "/api/agents/{id}/triggers/{triggerId}/rotate-secret",
    auth: "bearer",
    expect: [200, 200, 403, 403, 200, 200, 403, 403, 404, 404, 404, 401, 401, 401, 401, 401],
    request: async (w) => {
      const trigger = await w.freshTrigger();
      return { path: `/api/agents/${trigger.agentId}/triggers/${trigger.id}/rotate-secret` };
    },
  },
  { method: "GET", path: "/api/agents/{id}/versions", auth: "bearer", expect: [200, 200, 200, 200, 200, 200, 200, 200, 404, 404, 404, 401, 401, 401, 401, 401], request: async (w) => ({ path: `/api/agents/${w.activeAgentId}/versions` }) },
  // A webhook tool's signing secret is a credential: admins and owners (keys too); another workspace's agent is a 404 first.
  { method: "GET", path: "/api/agents/{id}/tool-secret", auth: "bearer", expect: [200, 200, 403, 403, 200, 200, 403, 403, 404, 404, 404, 401, 401, 401, 401, 401], request: async (w) => ({ path: `/api/agents/${w.activeAgentId}/tool-secret` }) },
  {
    method: "POST",
    path: "/api/agents/{id}/executions",
    auth: "bearer",
    expect: [202, 202, 202, 403, 202, 202, 202, 403, 404, 404, 404, 401, 401, 401, 401, 401],
    request: async (w) => ({ path: `/api/agents/${w.activeAgentId}/executions`, body: { input: { message: "hello" } } }),
  },
  { method: "GET", path: "/api/executions/{id}/deliveries", auth: "bearer", expect: [200, 200, 200, 200, 200, 200, 200, 200, 404, 404, 404, 401, 401, 401, 401, 401], request: async (w) => ({ path: `/api/executions/${w.executionId}/deliveries` }) },
  { method: "GET", path: "/api/executions/{id}", auth: "bearer", expect: [200, 200, 200, 200, 200, 200, 200, 200, 404, 404, 404, 401, 401, 401, 401, 401], request: async (w) => ({ path: `/api/executions/${w.executionId}` }) },
  // Lists are of the caller's own workspace: another workspace's caller sees its own (empty) list.
  { method: "GET", path: "/api/executions", auth: "bearer", expect: [200, 200, 200, 200, 200, 200, 200, 200, 404, 404, 404, 401, 401, 401, 401, 401], request: async (w) => ({ path: `/api/executions?agentId=${w.activeAgentId}` }) },
  { method: "GET", path: "/api/agents/{id}/executions", auth: "bearer", expect: [200, 200, 200, 200, 200, 200, 200, 200, 404, 404, 404, 401, 401, 401, 401, 401], request: async (w) => ({ path: `/api/agents/${w.activeAgentId}/executions` }) },
  // The stream of an ended execution: its stored events, then the end.
  { method: "GET", path: "/api/executions/{id}/events", auth: "bearer", expect: [200, 200, 200, 200, 200, 200, 200, 200, 404, 404, 404, 401, 401, 401, 401, 401], request: async (w) => ({ path: `/api/executions/${await w.endedExecution()}/events` }) },
  // An ended execution: who may cancel gets the 409, who may not the 403 first.
  {
    method: "POST",
    path: "/api/executions/{id}/cancel",
    auth: "bearer",
    expect: [409, 409, 409, 403, 409, 409, 409, 403, 404, 404, 404, 401, 401, 401, 401, 401],
    request: async (w) => ({ path: `/api/executions/${await w.endedExecution()}/cancel` }),
  },

  // Knowledge bases: viewers read and query, members create and add documents (docs/api.md).
  { method: "POST", path: "/api/knowledge-bases", auth: "bearer", expect: [201, 201, 201, 403, 201, 201, 201, 403, 201, 403, 201, 401, 401, 401, 401, 401], request: async () => ({ path: "/api/knowledge-bases", body: { name: "Matrix" } }) },
  { method: "GET", path: "/api/knowledge-bases", auth: "bearer", expect: ANY_MEMBER(200), request: async () => ({ path: "/api/knowledge-bases" }) },
  { method: "GET", path: "/api/knowledge-bases/{id}", auth: "bearer", expect: [200, 200, 200, 200, 200, 200, 200, 200, 404, 404, 404, 401, 401, 401, 401, 401], request: async (w) => ({ path: `/api/knowledge-bases/${w.knowledgeBaseId}` }) },
  {
    method: "POST",
    path: "/api/knowledge-bases/{id}/documents",
    auth: "bearer",
    expect: [202, 202, 202, 403, 202, 202, 202, 403, 404, 404, 404, 401, 401, 401, 401, 401],
    request: async (w, p) => ({ path: `/api/knowledge-bases/${w.knowledgeBaseId}/documents`, body: { title: `From ${p}`, text: "Matrix documents are short." } }),
  },
  { method: "GET", path: "/api/knowledge-bases/{id}/documents", auth: "bearer", expect: [200, 200, 200, 200, 200, 200, 200, 200, 404, 404, 404, 401, 401, 401, 401, 401], request: async (w) => ({ path: `/api/knowledge-bases/${w.knowledgeBaseId}/documents` }) },
  {
    method: "POST",
    path: "/api/knowledge-bases/{id}/query",
    auth: "bearer",
    expect: [200, 200, 200, 200, 200, 200, 200, 200, 404, 404, 404, 401, 401, 401, 401, 401],
    request: async (w) => ({ path: `/api/knowledge-bases/${w.knowledgeBaseId}/query`, body: { query: "matrix documents" } }),
  },

  // Audit, and operators (the system_admin flag alone, never an API key).
  { method: "GET", path: "/api/audit-logs", auth: "bearer", expect: [200, 200, 403, 403, 200, 200, 403, 403, 200, 403, 200, 401, 401, 401, 401, 401], request: async () => ({ path: "/api/audit-logs" }) },
  { method: "GET", path: "/api/audit-logs/verify", auth: "bearer", expect: [200, 200, 403, 403, 200, 200, 403, 403, 200, 403, 200, 401, 401, 401, 401, 401], request: async () => ({ path: "/api/audit-logs/verify" }) },
  { method: "GET", path: "/api/audit-logs/export", auth: "bearer", expect: [200, 200, 403, 403, 200, 200, 403, 403, 200, 403, 200, 401, 401, 401, 401, 401], request: async () => ({ path: "/api/audit-logs/export?action=agent.created" }) },
  { method: "GET", path: "/api/admin/security-incidents", auth: "bearer", expect: [403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 200, 401, 401, 401, 401, 401], request: async () => ({ path: "/api/admin/security-incidents" }) },
  { method: "GET", path: "/api/admin/audit-logs", auth: "bearer", expect: [403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 200, 401, 401, 401, 401, 401], request: async () => ({ path: "/api/admin/audit-logs" }) },
  // Replays and dead letters (issue 6): system admins alone; unknown ids show the sysadmin passed authorization (404, not 403).
  { method: "POST", path: "/api/admin/replays", auth: "bearer", expect: [403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 202, 401, 401, 401, 401, 401], request: async (w) => ({ path: "/api/admin/replays", body: { target: "audit", workspaceId: w.workspaceId, dryRun: true } }) },
  { method: "GET", path: "/api/admin/replays", auth: "bearer", expect: [403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 200, 401, 401, 401, 401, 401], request: async () => ({ path: "/api/admin/replays" }) },
  { method: "GET", path: "/api/admin/replays/{id}", auth: "bearer", expect: [403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 404, 401, 401, 401, 401, 401], request: async () => ({ path: `/api/admin/replays/${randomUUID()}` }) },
  { method: "POST", path: "/api/admin/replays/{id}/cancel", auth: "bearer", expect: [403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 404, 401, 401, 401, 401, 401], request: async () => ({ path: `/api/admin/replays/${randomUUID()}/cancel` }) },
  { method: "GET", path: "/api/admin/dead-letters", auth: "bearer", expect: [403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 200, 401, 401, 401, 401, 401], request: async () => ({ path: "/api/admin/dead-letters?consumer=audit" }) },
  { method: "GET", path: "/api/admin/dead-letters/{id}", auth: "bearer", expect: [403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 404, 401, 401, 401, 401, 401], request: async () => ({ path: "/api/admin/dead-letters/999999" }) },
  { method: "POST", path: "/api/admin/dead-letters/{id}/redrive", auth: "bearer", expect: [403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 404, 401, 401, 401, 401, 401], request: async () => ({ path: "/api/admin/dead-letters/999999/redrive" }) },
  { method: "POST", path: "/api/admin/dead-letters/redrive", auth: "bearer", expect: [403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 202, 401, 401, 401, 401, 401], request: async (w) => ({ path: "/api/admin/dead-letters/redrive", body: { consumer: "audit", subject: `evt.${w.workspaceId}.nothing.here` } }) },

  // Operations and documentation: public, and hidden from the OpenAPI document.
  { method: "GET", path: "/openapi.json", auth: "public", hidden: true, expect: ALL(200), request: async () => ({ path: "/openapi.json" }) },
  { method: "GET", path: "/docs", auth: "public", hidden: true, expect: ALL(200), request: async () => ({ path: "/docs" }) },
  { method: "GET", path: "/health/live", auth: "public", hidden: true, expect: ALL(200), request: async () => ({ path: "/health/live" }) },
  { method: "GET", path: "/health/ready", auth: "public", hidden: true, expect: ALL(200), request: async () => ({ path: "/health/ready" }) },
];

/** A fresh agent of the owner or the member, activated by its creator (pausing needs an active one). */
async function activated(w: World, by: "owner" | "member"): Promise<string> {
  const id = await w.freshDraftAgent(by);
  await must(api(galaxy, "POST", `/api/agents/${id}/activate`, { token: w.tokens[by] }), 200, "activate an agent to pause");
  return id;
}

const PASSWORD = "correct horse battery";
const AGENT_BODY = { name: "Matrix", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "Be brief." };
/** The gateway's `OIDC_WEBHOOK_SECRET` in this test (Standard Webhooks: `whsec_` + base64). */
const WEBHOOK_SECRET = `whsec_${randomBytes(32).toString("base64")}`;

const keyOf = (row: Pick<Row, "method" | "path">) => `${row.method} ${row.path}`;
const rowName = (row: Row) => `${keyOf(row)}${row.variant ? ` (${row.variant})` : ""}`;

/** The callers and the resources the cells act on. */
interface World {
  workspaceId: string;
  ownerEmail: string;
  tokens: Record<PrincipalName, string | undefined>;
  activeAgentId: string;
  executionId: string;
  /** `executionId`, once it has ended. */
  endedExecution(): Promise<string>;
  /** A knowledge base of the owner's workspace. */
  knowledgeBaseId: string;
  freshEmail(): string;
  freshUser(): Promise<{ id: string; email: string }>;
  /** A new user added to the owner's workspace with `role`; its id. */
  freshMember(role: "viewer" | "owner"): Promise<string>;
  /** A new API key of the owner's workspace; its id. */
  freshApiKey(): Promise<string>;
  /** A new draft agent of the owner's workspace, created by the owner or by the member; its id. */
  freshDraftAgent(by: "owner" | "member"): Promise<string>;
  /** A Pinecone key stored in the workspace `principal` acts in, so its DELETE has something to delete. */
  storeCredential(principal: PrincipalName): Promise<void>;
  /** An ID token of the configured issuer for a new subject, or one signed by a key its JWKS does not hold. */
  idToken(forged: boolean): Promise<string>;
  /** A `user.created` delivery for a new Clerk user, signed with the gateway's secret or not at all. */
  userSyncDelivery(signed: boolean): Promise<CellRequest>;
  /** A new webhook trigger of the owner's active agent. */
  freshTrigger(): Promise<{ id: string; agentId: string; secret: string }>;
  /** A delivery to a webhook trigger of the owner's active agent, signed with its secret or not at all. */
  triggerDelivery(signed: boolean): Promise<CellRequest>;
}

let galaxy: Galaxy;
let issuer: LocalOidcIssuer;
let world: World;
let superuser: Kysely<unknown>;
/** `METHOD path` of every operation in the gateway's `/openapi.json`. */
let documented: Set<string>;

async function must(response: Promise<ApiResponse>, status: number, what: string): Promise<ApiResponse> {
  const r = await response;
  if (r.status !== status) throw new Error(`setup: ${what} answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r;
}

beforeAll(async () => {
  issuer = await startLocalOidcIssuer();
  galaxy = await startGalaxy(inject("engines"), { oidc: { issuer: issuer.issuer, jwksUrl: issuer.jwksUrl }, oidcWebhookSecrets: [WEBHOOK_SECRET] });
  superuser = createDb<unknown>({ connectionString: galaxy.env.databaseUrl, max: 2 });
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
  world = {
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
    async triggerDelivery(signed) {
      hookTrigger ??= await this.freshTrigger();
      const body = JSON.stringify({ message: "from the matrix" });
      const webhookId = `msg_${randomUUID()}`;
      const timestamp = Math.floor(Date.now() / 1000);
      const headers: Record<string, string> = signed ? { "webhook-id": webhookId, "webhook-timestamp": String(timestamp), "webhook-signature": signWebhook(hookTrigger.secret, webhookId, timestamp, body) } : {};
      return { path: `/hooks/${hookTrigger.id}`, body, headers };
    },
  };

  const openapi = z.object({ paths: z.record(z.string(), z.record(z.string(), z.unknown())) }).parse((await must(api(galaxy, "GET", "/openapi.json"), 200, "openapi")).body);
  documented = new Set(
    Object.entries(openapi.paths).flatMap(([path, operations]) =>
      Object.keys(operations)
        .filter((m) => ["get", "post", "put", "patch", "delete", "head", "options", "trace"].includes(m))
        .map((m) => `${m.toUpperCase()} ${path}`),
    ),
  );
}, 120_000);

afterAll(async () => {
  await superuser?.destroy();
  await galaxy?.stop();
  await issuer?.close();
});

/** A call that keeps the body as text when it is not JSON (the docs page, metrics). */
async function send(method: Method, path: string, token: string | undefined, cell: CellRequest): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = { ...(cell.body !== undefined ? { "content-type": "application/json" } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}), ...cell.headers };
  const response = await fetch(`${galaxy.url}${path}`, { method, headers, ...(cell.body !== undefined ? { body: typeof cell.body === "string" ? cell.body : JSON.stringify(cell.body) } : {}) });
  const text = await response.text();
  const json = (response.headers.get("content-type") ?? "").includes("application/json");
  return { status: response.status, body: json && text ? JSON.parse(text) : text };
}

describe("the table", () => {
  test("covers every endpoint of /openapi.json, and names only endpoints it serves (or pending ones)", () => {
    const rowKeys = new Set(ROWS.map(keyOf));
    const withoutRow = [...documented].filter((k) => !rowKeys.has(k));
    expect(withoutRow, "endpoints in /openapi.json without a row in ROWS: add one").toEqual([]);
    const stray = ROWS.filter((r) => !r.hidden && !documented.has(keyOf(r)) && !PENDING.has(keyOf(r))).map(rowName);
    expect(stray, "rows whose endpoint is not in /openapi.json (removed or renamed?)").toEqual([]);
    const landed = [...PENDING].filter((k) => documented.has(k));
    expect(landed, "PENDING entries now in /openapi.json: remove them from PENDING").toEqual([]);
    // The document is the gateway's real one, not an empty shell that would cover nothing.
    expect(documented.size).toBeGreaterThan(20);
  });

  test("the database fingerprint sees the writes the matrix refuses, when they are allowed", async () => {
    // Without this, a fingerprint blind to some table would let every refused write pass.
    const sees = async (table: string, write: () => Promise<ApiResponse>, status: number) => {
      const before = await settledFingerprint();
      expect((await write()).status).toBe(status);
      expect(changedTables(before, await settledFingerprint())).toContain(table);
    };
    const owner = world.tokens.owner;
    await sees("registry.agents", () => api(galaxy, "POST", "/api/agents", { token: owner, body: AGENT_BODY }), 201);
    await sees("registry.agents", async () => api(galaxy, "POST", `/api/agents/${await world.freshDraftAgent("member")}/activate`, { token: owner }), 200);
    await sees("identity.members", async () => api(galaxy, "PATCH", `/api/members/${await world.freshMember("viewer")}`, { token: owner, body: { role: "member" } }), 200);
    await sees("identity.api_keys", async () => api(galaxy, "DELETE", `/api/api-keys/${await world.freshApiKey()}`, { token: owner }), 204);
    await sees("identity.provider_credentials", () => api(galaxy, "PUT", "/api/provider-credentials/pinecone", { token: owner, body: { apiKey: `pc-${randomUUID()}` } }), 200);
    await sees("identity.workspaces", () => api(galaxy, "PATCH", "/api/workspace", { token: owner, body: { settings: { seen: randomUUID() } } }), 200);
    await sees("execution.executions", () => api(galaxy, "POST", `/api/agents/${world.activeAgentId}/executions`, { token: owner, body: { input: { message: "seen" } } }), 202);
    await sees("identity.users", () => api(galaxy, "POST", "/api/auth/signup", { body: { email: world.freshEmail(), password: PASSWORD, name: "Seen", workspaceName: "Seen" } }), 201);
    // The events a write emits: an outbox the write touches nothing else of would still show.
    await sees("identity.outbox", async () => api(galaxy, "DELETE", `/api/api-keys/${await world.freshApiKey()}`, { token: owner }), 204);
    await sees("registry.outbox", () => api(galaxy, "POST", "/api/agents", { token: owner, body: AGENT_BODY }), 201);
    await sees("registry.knowledge_documents", () => api(galaxy, "POST", `/api/knowledge-bases/${world.knowledgeBaseId}/documents`, { token: owner, body: { title: "Seen", text: "seen" } }), 202);

    // …but not the `security.*` reports a refusal legitimately writes (here, asynchronously: a foreign agent's 404).
    const reports = async () => Number((await sql<{ n: number }>`select count(*)::int as n from registry.outbox where type = 'security.cross_workspace_attempt'`.execute(superuser)).rows[0]?.n);
    const reported = await reports();
    const before = await settledFingerprint();
    expect((await api(galaxy, "GET", `/api/agents/${world.activeAgentId}`, { token: world.tokens.outsider })).status).toBe(404);
    await eventually(async () => ((await reports()) > reported ? true : undefined), 5_000, "the cross-workspace report");
    expect(changedTables(before, await settledFingerprint())).toEqual([]);
  });

  test("has one status per principal in every row", () => {
    for (const row of ROWS) expect(row.expect, rowName(row)).toHaveLength(PRINCIPALS.length);
  });
});

/**
 * The data of every schema as one fingerprint per table, read as the superuser. Left out: what
 * changes without any write of the caller's (the outbox's publication marks, the audit log
 * fed from the stream, idempotency records, an API key's last use, migration bookkeeping).
 *
 * Outbox tables are in it by the events they hold (`id`, `type`, `workspace_id`, not
 * `published_at`), so a refused write that still emits an event fails. Events of `security.*`
 * types are left out: a refusal legitimately reports them, some asynchronously (a
 * `security.cross_workspace_attempt` for a foreign resource's 404).
 */
const EXCLUDED_TABLES = new Set(["kysely_migration", "kysely_migration_lock"]);
const EXCLUDED_SCHEMAS = new Set(["audit"]);
const EXCLUDED_COLUMNS: Record<string, readonly string[]> = { "identity.api_keys": ["last_used_at"], "gateway.idempotency_keys": ["*"] };
/** An outbox is fingerprinted by these columns alone, and without `security.*` events. */
const OUTBOX_TABLE = "outbox";
const OUTBOX_COLUMNS: readonly string[] = ["id", "type", "workspace_id"];
const OUTBOX_FILTER = "type not like 'security.%'";

let snapshotSql: string | undefined;
async function fingerprintQuery(): Promise<string> {
  if (snapshotSql) return snapshotSql;
  const schemas = Object.values(SERVICE_SCHEMAS).filter((s) => !EXCLUDED_SCHEMAS.has(s));
  const columns = await sql<{ schema: string; table: string; column: string }>`
    select c.table_schema as schema, c.table_name as table, c.column_name as column
    from information_schema.columns c join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
    where c.table_schema = any(${schemas}::text[]) and t.table_type = 'BASE TABLE'
    order by c.table_schema, c.table_name, c.ordinal_position`.execute(superuser);
  const tables = new Map<string, { columns: string[]; filter?: string }>();
  for (const { schema, table, column } of columns.rows) {
    const name = `${schema}.${table}`;
    const excluded = EXCLUDED_COLUMNS[name] ?? [];
    if (EXCLUDED_TABLES.has(table) || excluded.includes("*") || excluded.includes(column)) continue;
    if (table === OUTBOX_TABLE && !OUTBOX_COLUMNS.includes(column)) continue;
    const entry = tables.get(name) ?? { columns: [], ...(table === OUTBOX_TABLE ? { filter: OUTBOX_FILTER } : {}) };
    entry.columns.push(`"${column}"`);
    tables.set(name, entry);
  }
  if (tables.size < 10) throw new Error(`the fingerprint covers only ${[...tables.keys()].join(", ")}`);
  // Every outbox must be in it with all of its columns: a renamed column would silently leave it out.
  const outboxes = [...tables.entries()].filter(([name]) => name.endsWith(`.${OUTBOX_TABLE}`));
  if (outboxes.length < 3) throw new Error(`the fingerprint covers the outboxes of ${outboxes.map(([name]) => name).join(", ") || "no schema"} only`);
  for (const [name, { columns: cols }] of outboxes) if (cols.length !== OUTBOX_COLUMNS.length) throw new Error(`${name}: the fingerprint reads ${cols.join(", ")}, not ${OUTBOX_COLUMNS.join(", ")}`);
  snapshotSql = [...tables.entries()]
    .map(([name, { columns: cols, filter }]) => `select '${name}' as name, count(*)::int as rows, md5(coalesce(string_agg(r, E'\\n' order by r), '')) as hash from (select row(${cols.join(", ")})::text as r from ${name}${filter ? ` where ${filter}` : ""}) t`)
    .join(" union all ");
  return snapshotSql;
}

async function fingerprint(): Promise<Record<string, string>> {
  const result = await sql<{ name: string; rows: number; hash: string }>`${sql.raw(await fingerprintQuery())}`.execute(superuser);
  return Object.fromEntries(result.rows.map((r) => [r.name, `${r.rows}:${r.hash}`]));
}

/**
 * What earlier cells set going and has not finished: unpublished outbox rows, executions not
 * yet run, agents the worker's projection has not caught up with, documents not yet indexed.
 * Zero when the system is at rest.
 */
const IN_FLIGHT = sql<{ busy: number }>`
  select ((select count(*) from identity.outbox where published_at is null)
       + (select count(*) from registry.outbox where published_at is null)
       + (select count(*) from execution.outbox where published_at is null)
       + (select count(*) from execution.executions where status in ('queued', 'running'))
       + (select count(*) from registry.knowledge_documents where status = 'pending')
       + (select count(*) from registry.agents r where not exists (
           select 1 from execution.agents e where e.agent_id = r.id and e.status = r.status and e.current_version = r.current_version))
       )::int as busy`;

/** The fingerprint once nothing is in flight and nothing moves for a moment. */
async function settledFingerprint(): Promise<Record<string, string>> {
  const deadline = Date.now() + 10_000;
  let previous: string | undefined;
  for (;;) {
    const busy = Number((await IN_FLIGHT.execute(superuser)).rows[0]?.busy);
    const current = await fingerprint();
    if (busy === 0 && JSON.stringify(current) === previous) return current;
    if (Date.now() > deadline) throw new Error(`the system did not come to rest in 10 s (${busy} in flight): a refused write cannot be checked against a moving database`);
    previous = busy === 0 ? JSON.stringify(current) : undefined;
    await new Promise((r) => setTimeout(r, 40));
  }
}

function changedTables(before: Record<string, string>, after: Record<string, string>): string[] {
  return Object.keys({ ...before, ...after }).filter((name) => before[name] !== after[name]);
}

const TITLES: Record<number, string> = { 400: "Validation Error", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict" };
const BAD_CREDENTIAL_CODES: Partial<Record<PrincipalName, string>> = { expired: "token_expired", stale: "token_stale", "key:revoked": "invalid_api_key", "key:expired": "invalid_api_key", none: "missing_credentials" };

for (const row of ROWS) {
  describe(rowName(row), () => {
    PRINCIPALS.forEach((principal, index) => {
      const expected = row.expect[index] ?? 0;
      test(`${principal} → ${expected}`, async () => {
        const pendingAbsent = PENDING.has(keyOf(row)) && !documented.has(keyOf(row));
        const cell = await row.request(world, principal);
        const token = world.tokens[principal];
        const denied = pendingAbsent || expected >= 400;
        const guard = WRITES.has(row.method) && denied;
        const before = guard ? await settledFingerprint() : undefined;
        const response = await send(row.method, cell.path, token, cell);
        const what = `${row.method} ${cell.path} as ${principal}: ${JSON.stringify(response.body)?.slice(0, 300)}`;

        if (pendingAbsent) {
          // Not served yet: the cell proves the route is really absent, not silently answering.
          expect(response.status, what).toBe(404);
          expect(ErrorBody.parse(response.body).code, what).toBe("route_not_found");
        } else {
          expect(response.status, what).toBe(expected);
          if (expected >= 400) {
            const error = ErrorBody.parse(response.body);
            expect(error.error, what).toBe(TITLES[expected]);
            const badCredentialCode = BAD_CREDENTIAL_CODES[principal];
            if (expected === 401 && row.auth === "bearer" && badCredentialCode) expect(error.code, what).toBe(badCredentialCode);
            // A foreign resource is the resource's own 404, never a missing route.
            if (expected === 404) expect(error.code, what).toMatch(/^(?!route_)[a-z_]+_not_found$/);
          }
        }

        if (before) {
          const after = await settledFingerprint();
          expect(changedTables(before, after), `a refused ${what} changed the database`).toEqual([]);
        }
      });
    });
  });
}
