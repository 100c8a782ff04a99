import { randomUUID } from "node:crypto";
import { api } from "../harness";
import { must } from "./world";
import { ALL, AGENT_BODY, ANY_MEMBER, PASSWORD, PRINCIPALS, type Row, type World } from "./principals";

/** Every endpoint of the gateway, with the status each principal gets (one per column of `PRINCIPALS`) and the request a cell sends. */
export const ROWS: readonly Row[] = [
  // Auth and keys: public, or the caller's own account.
  { method: "POST", path: "/api/auth/signup", auth: "public", expect: ALL(201), request: async (w) => ({ path: "/api/auth/signup", body: { email: w.freshEmail(), password: PASSWORD, name: "New", workspaceName: "New" } }) },
  { method: "POST", path: "/api/auth/login", auth: "public", expect: ALL(200), request: async (w) => ({ path: "/api/auth/login", body: { email: w.ownerEmail, password: PASSWORD } }) },
  { method: "POST", path: "/api/auth/switch", auth: "bearer", expect: [200, 200, 200, 200, 403, 403, 403, 403, 404, 404, 404, 401, 401, 401, 401, 401], request: async (w) => ({ path: "/api/auth/switch", body: { workspaceId: w.workspaceId } }) },
  { method: "GET", path: "/api/me", auth: "bearer", expect: ANY_MEMBER(200), request: async () => ({ path: "/api/me" }) },
  { method: "GET", path: "/.well-known/jwks.json", auth: "public", expect: ALL(200), request: async () => ({ path: "/.well-known/jwks.json" }) },
  // Public: the bearer header plays no part; the ID token decides.
  { method: "POST", path: "/api/auth/exchange", variant: "a token of the configured issuer", auth: "public", expect: ALL(200), request: async (w) => ({ path: "/api/auth/exchange", body: { idToken: await w.idToken(false) } }) },
  { method: "POST", path: "/api/auth/exchange", variant: "a token signed by another key", auth: "public", expect: ALL(401), request: async (w) => ({ path: "/api/auth/exchange", body: { idToken: await w.idToken(true) } }) },
  // The browser sign-in: whether it is configured, and a code the provider never issued.
  { method: "GET", path: "/api/auth/oidc", auth: "public", expect: ALL(200), request: async () => ({ path: "/api/auth/oidc" }) },
  {
    method: "POST",
    path: "/api/auth/oidc/token",
    variant: "a code the provider never issued",
    auth: "public",
    expect: ALL(401),
    request: async () => ({ path: "/api/auth/oidc/token", body: { code: `never-issued-${randomUUID()}`, codeVerifier: "v".repeat(43), redirectUri: "http://127.0.0.1/console/auth/callback" } }),
  },
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
  { method: "GET", path: "/api/triggers/{id}/deliveries", auth: "bearer", expect: [200, 200, 200, 200, 200, 200, 200, 200, 404, 404, 404, 401, 401, 401, 401, 401], request: async (w) => ({ path: `/api/triggers/${(await w.webhookTrigger()).id}/deliveries` }) },
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
  // The live changes of the workspace's executions (or of one agent's): who may list them may follow them.
  { method: "GET", path: "/api/executions/stream", auth: "bearer", expect: [200, 200, 200, 200, 200, 200, 200, 200, 404, 404, 404, 401, 401, 401, 401, 401], request: async (w) => ({ path: `/api/executions/stream?agentId=${w.activeAgentId}` }) },
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
  // Replays and dead letters (docs/replay.md): system admins alone; unknown ids show the sysadmin passed authorization (404, not 403).
  { method: "POST", path: "/api/admin/replays", auth: "bearer", expect: [403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 202, 401, 401, 401, 401, 401], request: async (w) => ({ path: "/api/admin/replays", body: { target: "audit", workspaceId: w.workspaceId, dryRun: true } }) },
  { method: "GET", path: "/api/admin/replays", auth: "bearer", expect: [403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 200, 401, 401, 401, 401, 401], request: async () => ({ path: "/api/admin/replays" }) },
  { method: "GET", path: "/api/admin/replays/{id}", auth: "bearer", expect: [403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 404, 401, 401, 401, 401, 401], request: async () => ({ path: `/api/admin/replays/${randomUUID()}` }) },
  { method: "POST", path: "/api/admin/replays/{id}/cancel", auth: "bearer", expect: [403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 404, 401, 401, 401, 401, 401], request: async () => ({ path: `/api/admin/replays/${randomUUID()}/cancel` }) },
  { method: "GET", path: "/api/admin/dead-letters", auth: "bearer", expect: [403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 200, 401, 401, 401, 401, 401], request: async () => ({ path: "/api/admin/dead-letters?consumer=audit" }) },
  { method: "GET", path: "/api/admin/dead-letters/{id}", auth: "bearer", expect: [403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 404, 401, 401, 401, 401, 401], request: async () => ({ path: "/api/admin/dead-letters/999999" }) },
  { method: "POST", path: "/api/admin/dead-letters/{id}/redrive", auth: "bearer", expect: [403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 404, 401, 401, 401, 401, 401], request: async () => ({ path: "/api/admin/dead-letters/999999/redrive" }) },
  { method: "POST", path: "/api/admin/dead-letters/redrive", auth: "bearer", expect: [403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 202, 401, 401, 401, 401, 401], request: async (w) => ({ path: "/api/admin/dead-letters/redrive", body: { consumer: "audit", subject: `evt.${w.workspaceId}.nothing.here` } }) },
  // A workspace's subscription tier (docs/executions.md): system admins alone, even for the workspace's own owner.
  { method: "GET", path: "/api/admin/workspaces/{id}/tier", auth: "bearer", expect: [403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 200, 401, 401, 401, 401, 401], request: async (w) => ({ path: `/api/admin/workspaces/${w.workspaceId}/tier` }) },
  { method: "PUT", path: "/api/admin/workspaces/{id}/tier", auth: "bearer", expect: [403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 200, 401, 401, 401, 401, 401], request: async (w) => ({ path: `/api/admin/workspaces/${w.workspaceId}/tier`, body: { tier: "free" } }) },

  // Operations and documentation: public, and hidden from the OpenAPI document.
  { method: "GET", path: "/openapi.json", auth: "public", hidden: true, expect: ALL(200), request: async () => ({ path: "/openapi.json" }) },
  { method: "GET", path: "/docs", auth: "public", hidden: true, expect: ALL(200), request: async () => ({ path: "/docs" }) },
  { method: "GET", path: "/health/live", auth: "public", hidden: true, expect: ALL(200), request: async () => ({ path: "/health/live" }) },
  { method: "GET", path: "/health/ready", auth: "public", hidden: true, expect: ALL(200), request: async () => ({ path: "/health/ready" }) },
];


/** A fresh agent of the owner or the member, activated by its creator (pausing needs an active one). */
async function activated(w: World, by: "owner" | "member"): Promise<string> {
  const id = await w.freshDraftAgent(by);
  await must(api(w.galaxy, "POST", `/api/agents/${id}/activate`, { token: w.tokens[by] }), 200, "activate an agent to pause");
  return id;
}
