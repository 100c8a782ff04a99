import { randomBytes } from "node:crypto";
import type { Galaxy } from "../harness";

/**
 * The authorization matrix (docs/api.md): every endpoint of the gateway × every kind of caller
 * → the status it gets, from the one table `ROWS` (rows.ts). This file names the callers (the
 * matrix's columns), what a row holds, and the world the cells act on (world.ts builds it).
 */

export const PRINCIPALS = [
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
export type PrincipalName = (typeof PRINCIPALS)[number];

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
export const WRITES: ReadonlySet<Method> = new Set<Method>(["POST", "PUT", "PATCH", "DELETE"]);

/** What one cell sends: the concrete path and body, after setting up what it needs. */
export interface CellRequest {
  path: string;
  /** JSON, or a string sent as it is (a signed webhook's exact bytes). */
  body?: unknown;
  headers?: Record<string, string>;
}

export interface Row {
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
export const PENDING: ReadonlySet<string> = new Set<string>([]);

export const ALL = (status: number) => PRINCIPALS.map(() => status);
/** The principals whose credential is no good: 401 on every bearer endpoint. */
export const UNAUTHENTICATED: ReadonlySet<PrincipalName> = new Set<PrincipalName>(["expired", "stale", "key:revoked", "key:expired", "none"]);
export const ANY_MEMBER = (status: number) => PRINCIPALS.map((p) => (UNAUTHENTICATED.has(p) ? 401 : status));


export const PASSWORD = "correct horse battery";
export const AGENT_BODY = { name: "Matrix", provider: "openai", model: "galaxy-dev-echo", systemPrompt: "Be brief." };
/** The gateway's `OIDC_WEBHOOK_SECRET` in this test (Standard Webhooks: `whsec_` + base64). */
export const WEBHOOK_SECRET = `whsec_${randomBytes(32).toString("base64")}`;

export const keyOf = (row: Pick<Row, "method" | "path">) => `${row.method} ${row.path}`;
export const rowName = (row: Row) => `${keyOf(row)}${row.variant ? ` (${row.variant})` : ""}`;

/** The callers and the resources the cells act on. */
export interface World {
  galaxy: Galaxy;
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
  /** The owner's webhook trigger that the matrix's deliveries go to, made once. */
  webhookTrigger(): Promise<{ id: string; secret: string }>;
  triggerDelivery(signed: boolean): Promise<CellRequest>;
}
