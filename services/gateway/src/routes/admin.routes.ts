import { z } from "zod";
import type { FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { AuditEntry, AuditLogQuery, ForbiddenError, PageQuery, Pagination, SecurityIncident, SecurityIncidentsQuery, SYSTEM_WORKSPACE_ID } from "@galaxy/contracts";
import type { RequestOptions } from "@galaxy/bus";
import { busOptions } from "../http/context";
import type { RouteDeps } from "./deps";

/**
 * `/api/admin/*`: operator endpoints for users who hold the `system_admin` flag (CONTRACT §1).
 * They act with an operator claim on the system workspace, which identity issues only after
 * reading the flag again; the flag opens nothing inside a workspace the user is not a member of.
 */
export function adminRoutes({ bus, auth }: RouteDeps): FastifyPluginAsyncZod {
  /**
   * The bus options of an admin request: a verified access token whose `sa` says system admin
   * (API keys never are), traded for an operator claim. Not cached: admin calls are rare, and
   * each one sees the flag as it is now.
   */
  async function asOperator(request: FastifyRequest): Promise<RequestOptions> {
    const principal = await auth.authenticate(request);
    if (principal.kind !== "user" || principal.token?.sa !== true) {
      throw new ForbiddenError("Only system admins may use /api/admin/*; `galaxy admin grant-system-admin <email>` grants it", "system_admin_required");
    }
    const accessToken = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? "")?.[1] ?? "";
    const options = busOptions(request);
    const { claim } = await bus.request("identity.claims.operator", { accessToken }, options);
    return { ...options, claim, workspaceId: SYSTEM_WORKSPACE_ID };
  }

  return async (app) => {
    app.get(
      "/api/admin/security-incidents",
      {
        schema: {
          tags: ["admin"],
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
          tags: ["admin"],
          summary: "The system workspace's audit log (system-admin grants, key rotations, user sync, replays), newest first (system admins)",
          querystring: PageQuery.extend(AuditLogQuery.shape),
          response: { 200: z.object({ data: z.array(AuditEntry), pagination: Pagination }) },
        },
      },
      async (request) => {
        const page = await bus.request("audit.logs.list", request.query, await asOperator(request));
        return { data: page.items, pagination: page.pagination };
      },
    );
  };
}
