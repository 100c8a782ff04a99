import { z } from "zod";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { AddMemberBody, Member, MemberParams, PageQuery, Pagination, UpdateMemberBody } from "@galaxy/contracts";
import { busOptions } from "../http/context";
import { respond } from "../http/respond";
import type { RouteDeps } from "./deps";

/** The current workspace's members: viewers list them, admins manage them, owners manage owners. */
export function memberRoutes({ bus, db, auth }: RouteDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      "/api/members",
      { schema: { tags: ["members"], operationId: "listMembers", summary: "The workspace's members, oldest first", querystring: PageQuery, response: { 200: z.object({ data: z.array(Member), pagination: Pagination }) } } },
      async (request) => {
        const principal = await auth.authenticate(request);
        const page = await bus.request("identity.members.list", request.query, busOptions(request, principal));
        return { data: page.items, pagination: page.pagination };
      },
    );

    app.post(
      "/api/members",
      {
        schema: {
          tags: ["members"], operationId: "addMember",
          summary: "Add an existing user by email (admins; only owners add owners)",
          description: "404 `user_not_found` when no account has the email; 409 `already_member`.",
          body: AddMemberBody,
          response: { 201: z.object({ data: Member }) },
        },
      },
      async (request, reply) => {
        const principal = await auth.authenticate(request);
        await respond(db, request, reply, principal, async () => ({ status: 201, body: { data: await bus.request("identity.members.add", request.body, busOptions(request, principal)) } }));
      },
    );

    app.patch(
      "/api/members/:userId",
      {
        schema: {
          tags: ["members"], operationId: "updateMember",
          summary: "Change a member's role or permission overrides (admins; only owners change or make owners)",
          description: "`permissions`, when sent, replaces the member's overrides. The last owner cannot be demoted: 409 `last_owner`.",
          params: MemberParams,
          body: UpdateMemberBody,
          response: { 200: z.object({ data: Member }) },
        },
      },
      async (request, reply) => {
        const principal = await auth.authenticate(request);
        await respond(db, request, reply, principal, async () => ({
          status: 200,
          body: { data: await bus.request("identity.members.update", { ...request.body, userId: request.params.userId }, busOptions(request, principal)) },
        }));
      },
    );

    app.delete(
      "/api/members/:userId",
      {
        schema: {
          tags: ["members"], operationId: "removeMember",
          summary: "Remove a member (admins; only owners remove owners); the last owner cannot be removed",
          params: MemberParams,
          response: { 204: z.null().describe("Removed") },
        },
      },
      async (request, reply) => {
        const principal = await auth.authenticate(request);
        await respond(db, request, reply, principal, async () => {
          await bus.request("identity.members.remove", { userId: request.params.userId }, busOptions(request, principal));
          return { status: 204, body: null };
        });
      },
    );
  };
}
