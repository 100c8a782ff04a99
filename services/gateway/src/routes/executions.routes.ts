import { z } from "zod";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { AuditEntry, AuditLogQuery, Execution, PageQuery, Pagination, Uuid } from "@galaxy/contracts";
import { busOptions } from "../http/context";
import type { RouteDeps } from "./deps";

/** Reading executions and the audit log. */
export function executionRoutes({ bus, auth }: RouteDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.get("/api/executions/:id", { schema: { tags: ["executions"], summary: "Read an execution", params: z.object({ id: Uuid }), response: { 200: z.object({ data: Execution }) } } }, async (request) => {
      const principal = await auth.authenticate(request);
      return { data: await bus.request("execution.get", { id: request.params.id }, busOptions(request, principal)) };
    });

    app.get(
      "/api/audit-logs",
      { schema: { tags: ["audit"], summary: "The workspace's audit log, newest first (admins and owners)", querystring: PageQuery.extend(AuditLogQuery.shape), response: { 200: z.object({ data: z.array(AuditEntry), pagination: Pagination }) } } },
      async (request) => {
        const principal = await auth.authenticate(request);
        const page = await bus.request("audit.logs.list", request.query, busOptions(request, principal));
        return { data: page.items, pagination: page.pagination };
      },
    );
  };
}
