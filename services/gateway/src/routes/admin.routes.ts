import { z } from "zod";
import type { FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import {
  AuditEntry, AuditLogQuery, DeadLetter, DeadLetterQuery, DeadLetterRedrive, DeadLetterRedrives, ForbiddenError, CursorPageQuery, Pagination, RedriveManyRequest,
  RATE_TIERS_KEY, ReplayAccepted, ReplayListQuery, ReplayRun, SecurityIncident, SecurityIncidentsQuery, SetTierBody, StartReplayBody, SYSTEM_WORKSPACE_ID, Uuid, WorkspaceId,
  WorkspaceTier,
} from "@galaxy/contracts";
import type { Redis } from "ioredis";
import type { RequestOptions } from "@galaxy/bus";
import type { Principal } from "../auth/principal";
import { busOptions } from "../http/context";
import { respond } from "../http/respond";
import type { RouteDeps } from "./deps";

/**
 * `/api/admin/*`: operator endpoints for users who hold the `system_admin` flag (docs/api.md).
 * They act with an operator claim on the system workspace, which identity issues only after
 * reading the flag again; the flag opens nothing inside a workspace the user is not a member of.
 */
export function adminRoutes({ bus, auth, db }: RouteDeps, { redis }: { redis: Redis }): FastifyPluginAsyncZod {
  /**
   * The bus options of an admin request: a verified access token whose `sa` says system admin
   * (API keys never are), traded for an operator claim. Not cached: admin calls are rare, and
   * each one sees the flag as it is now.
   */
  async function asOperator(request: FastifyRequest): Promise<RequestOptions> {
    return (await operatorOf(request)).options;
  }

  /** The principal (for idempotent POSTs) and the operator's bus options. */
  async function operatorOf(request: FastifyRequest): Promise<{ principal: Principal; options: RequestOptions }> {
    const principal = await auth.authenticate(request);
    if (principal.kind !== "user" || principal.token?.sa !== true) {
      throw new ForbiddenError("Only system admins may use /api/admin/*; `galaxy admin grant-system-admin <email>` grants it", "system_admin_required");
    }
    const accessToken = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? "")?.[1] ?? "";
    const options = busOptions(request);
    const { claim } = await bus.request("identity.claims.operator", { accessToken }, options);
    return { principal, options: { ...options, claim, workspaceId: SYSTEM_WORKSPACE_ID } };
  }

  return async (app) => {
    // Replays (docs/replay.md): audit runs and records them.
    app.post(
      "/api/admin/replays",
      {
        schema: {
          tags: ["admin"], operationId: "startReplay",
          summary: "Start a replay of EVENTS into one projection (`audit`, `execution-worker.agent-versions`); it runs in the background (system admins)",
          description:
            "Reads EVENTS with an ordered consumer from `since`/`fromSeq` (default: the start) through `until`/`toSeq` (default: the stream's end as of now), one subject filter (`subject`, or `evt.{workspaceId}.>`), and hands each message to the target alone with `Gx-Replay-Id`; nothing is re-published. `reset` first drops the target's projection of `workspaceId` and rebuilds it while that workspace's live events wait. `dryRun` counts and changes nothing. Poll `GET /api/admin/replays/{id}` for progress.",
          body: StartReplayBody,
          response: { 202: z.object({ data: ReplayAccepted }) },
        },
      },
      async (request, reply) => {
        const { principal, options } = await operatorOf(request);
        await respond(db, request, reply, principal, async () => ({ status: 202, body: { data: await bus.request("audit.replays.start", request.body, options) } }));
      },
    );

    app.get(
      "/api/admin/replays",
      { schema: { tags: ["admin"], operationId: "listReplays", summary: "Replays, newest first (system admins)", querystring: ReplayListQuery, response: { 200: z.object({ data: z.array(ReplayRun), pagination: Pagination }) } } },
      async (request) => {
        const page = await bus.request("audit.replays.list", request.query, await asOperator(request));
        return { data: page.items, pagination: page.pagination };
      },
    );

    app.get(
      "/api/admin/replays/:id",
      {
        schema: {
          tags: ["admin"], operationId: "getReplay",
          summary: "A replay and its progress: matched, applied, skipped, failed, rate, ETA (system admins)",
          params: z.object({ id: Uuid }),
          response: { 200: z.object({ data: ReplayRun }) },
        },
      },
      async (request) => ({ data: await bus.request("audit.replays.get", { id: request.params.id }, await asOperator(request)) }),
    );

    app.post(
      "/api/admin/replays/:id/cancel",
      {
        schema: {
          tags: ["admin"], operationId: "cancelReplay",
          summary: "Cancel a running replay: it stops within moments; a reset's workspace stays held, its live events stored aside, until a reset of it completes (system admins)",
          params: z.object({ id: Uuid }),
          response: { 202: z.object({ data: ReplayRun }) },
        },
      },
      async (request, reply) => {
        const { principal, options } = await operatorOf(request);
        await respond(db, request, reply, principal, async () => ({ status: 202, body: { data: await bus.request("audit.replays.cancel", { id: request.params.id }, options) } }));
      },
    );

    // Dead letters (docs/bus.md, "Dead letters and redrive"): what a consumer could not apply.
    app.get(
      "/api/admin/dead-letters",
      {
        schema: {
          tags: ["admin"], operationId: "listDeadLetters",
          summary: "Dead letters, newest first: consumer, original subject, error, delivery count, redrive (system admins)",
          querystring: DeadLetterQuery,
          response: { 200: z.object({ data: z.array(DeadLetter), pagination: Pagination }) },
        },
      },
      async (request) => {
        const page = await bus.request("audit.dead_letters.list", request.query, await asOperator(request));
        return { data: page.items, pagination: page.pagination };
      },
    );

    app.get(
      "/api/admin/dead-letters/:id",
      {
        schema: {
          tags: ["admin"], operationId: "getDeadLetter",
          summary: "One dead letter with its headers (the claim redacted) and payload (system admins)",
          params: z.object({ id: z.coerce.number().int().min(1) }),
          response: { 200: z.object({ data: DeadLetter }) },
        },
      },
      async (request) => ({ data: await bus.request("audit.dead_letters.get", { id: request.params.id }, await asOperator(request)) }),
    );

    app.post(
      "/api/admin/dead-letters/:id/redrive",
      {
        schema: {
          tags: ["admin"], operationId: "redriveDeadLetter",
          summary: "Hand a dead letter back to the consumer that failed it; once applied it is never applied again (409) (system admins)",
          params: z.object({ id: z.coerce.number().int().min(1) }),
          response: { 202: z.object({ data: DeadLetterRedrive }) },
        },
      },
      async (request, reply) => {
        const { principal, options } = await operatorOf(request);
        await respond(db, request, reply, principal, async () => ({ status: 202, body: { data: await bus.request("audit.dead_letters.redrive", { id: request.params.id }, options) } }));
      },
    );

    app.post(
      "/api/admin/dead-letters/redrive",
      {
        schema: {
          tags: ["admin"], operationId: "redriveDeadLetters",
          summary: "Redrive every dead letter of one consumer (and original subject) not applied yet, oldest first (system admins)",
          body: RedriveManyRequest,
          response: { 202: z.object({ data: DeadLetterRedrives }) },
        },
      },
      async (request, reply) => {
        const { principal, options } = await operatorOf(request);
        await respond(db, request, reply, principal, async () => ({ status: 202, body: { data: await bus.request("audit.dead_letters.redrive_many", request.body, options) } }));
      },
    );

    app.get(
      "/api/admin/security-incidents",
      {
        schema: {
          tags: ["admin"], operationId: "listSecurityIncidents",
          summary: "Security incidents (`security.*` audit entries) of every workspace and of the system workspace, newest first (system admins)",
          querystring: SecurityIncidentsQuery,
          response: { 200: z.object({ data: z.array(SecurityIncident), pagination: Pagination }) },
        },
      },
      async (request) => {
        const page = await bus.request("audit.security_incidents.list", request.query, await asOperator(request));
        return { data: page.items, pagination: page.pagination };
      },
    );

    app.get(
      "/api/admin/audit-logs",
      {
        schema: {
          tags: ["admin"], operationId: "listAdminAuditLogs",
          summary: "The system workspace's audit log (system-admin grants, key rotations, user sync, replays), newest first (system admins)",
          querystring: CursorPageQuery.extend(AuditLogQuery.shape),
          response: { 200: z.object({ data: z.array(AuditEntry), pagination: Pagination }) },
        },
      },
      async (request) => {
        const page = await bus.request("audit.logs.list", request.query, await asOperator(request));
        return { data: page.items, pagination: page.pagination };
      },
    );

    // A workspace's subscription tier (docs/executions.md): the worker enforces it and keeps it.
    const tierSchema = (operationId: string, summary: string) => ({
      tags: ["admin"], operationId, summary, params: z.object({ id: WorkspaceId }), response: { 200: z.object({ data: WorkspaceTier }) },
    });
    app.get(
      "/api/admin/workspaces/:id/tier",
      { schema: tierSchema("getWorkspaceTier", "A workspace's subscription tier and what it allows (system admins)") },
      async (request) => ({ data: await bus.request("execution.tiers.get", { workspaceId: request.params.id }, await asOperator(request)) }),
    );

    app.put(
      "/api/admin/workspaces/:id/tier",
      {
        schema: {
          ...tierSchema("setWorkspaceTier", "Set a workspace's subscription tier; it applies to the next start and the next executions taken from its queue (system admins)"),
          description: "Sets the tier the execution worker enforces (executions at once, queued, tokens a month) and the API rate limits' copy of it in the gateway's Redis. Recorded as `workspace.tier_changed` in the workspace's audit log, with the system admin as its actor; setting the tier it has records nothing.",
          body: SetTierBody,
        },
      },
      async (request, reply) => {
        const { principal, options } = await operatorOf(request);
        const set = { workspaceId: request.params.id, tier: request.body.tier };
        await respond(db, request, reply, principal, async () => {
          const tier = await bus.request("execution.tiers.set", set, options);
          // The rate limiter's copy, after the worker's (the truth): a retry writes both again.
          await redis.hset(RATE_TIERS_KEY, tier.workspaceId, tier.tier);
          return { status: 200, body: { data: tier } };
        });
      },
    );
  };
}
