import { z } from "zod";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { CreateWorkspaceBody, PageQuery, Pagination, UpdateWorkspaceBody, WorkspaceDetails, WorkspaceMembership } from "@galaxy/contracts";
import { busOptions } from "../http/context";
import { respond } from "../http/respond";
import type { RouteDeps } from "./deps";

/** The caller's workspaces (create, list) and the current one (read, change). */
export function workspaceRoutes({ bus, db, auth }: RouteDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      "/api/workspaces",
      { schema: { tags: ["workspaces"], operationId: "createWorkspace", summary: "Create a workspace the caller owns (user tokens only); switch to it with POST /api/auth/switch", body: CreateWorkspaceBody, response: { 201: z.object({ data: WorkspaceDetails }) } } },
      async (request, reply) => {
        const principal = await auth.authenticate(request);
        await respond(db, request, reply, principal, async () => ({ status: 201, body: { data: await bus.request("identity.workspaces.create", request.body, busOptions(request, principal)) } }));
      },
    );

    app.get(
      "/api/workspaces",
      { schema: { tags: ["workspaces"], operationId: "listWorkspaces", summary: "The workspaces the caller belongs to, with its role in each (user tokens only)", querystring: PageQuery, response: { 200: z.object({ data: z.array(WorkspaceMembership), pagination: Pagination }) } } },
      async (request) => {
        const principal = await auth.authenticate(request);
        const page = await bus.request("identity.workspaces.list", request.query, busOptions(request, principal));
        return { data: page.items, pagination: page.pagination };
      },
    );

    app.get("/api/workspace", { schema: { tags: ["workspaces"], operationId: "getWorkspace", summary: "The current workspace", response: { 200: z.object({ data: WorkspaceDetails }) } } }, async (request) => {
      const principal = await auth.authenticate(request);
      return { data: await bus.request("identity.workspace.get", {}, busOptions(request, principal)) };
    });

    app.patch(
      "/api/workspace",
      {
        schema: {
          tags: ["workspaces"], operationId: "updateWorkspace",
          summary: "Rename the current workspace or change its settings (admins and owners)",
          description: "`settings` is merged key by key into the stored settings; a key set to `null` is removed.",
          body: UpdateWorkspaceBody,
          response: { 200: z.object({ data: WorkspaceDetails }) },
        },
      },
      async (request, reply) => {
        const principal = await auth.authenticate(request);
        await respond(db, request, reply, principal, async () => ({ status: 200, body: { data: await bus.request("identity.workspace.update", request.body, busOptions(request, principal)) } }));
      },
    );
  };
}
