import { z } from "zod";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { ApiKey, CreateApiKeyBody, CreatedApiKey, PageQuery, Pagination, Uuid } from "@galaxy/contracts";
import { busOptions } from "../http/context";
import { respond } from "../http/respond";
import type { RouteDeps } from "./deps";

/** API keys of the caller's workspace (admins and owners): create (the key is shown once), list, revoke. */
export function apiKeyRoutes({ bus, db, auth }: RouteDeps): FastifyPluginAsyncZod {
  return async (app) => {
    // No idempotency record: the answer holds the key, which the gateway never stores
    // (docs/decisions/0004). Repeating a create makes a second key, which can be revoked.
    app.post(
      "/api/api-keys",
      { schema: { tags: ["api-keys"], operationId: "createApiKey", summary: "Create an API key; `key` is shown only in this answer", body: CreateApiKeyBody, response: { 201: z.object({ data: CreatedApiKey }) } } },
      async (request, reply) => {
        const principal = await auth.authenticate(request);
        reply.status(201);
        return { data: await bus.request("identity.api_keys.create", request.body, busOptions(request, principal)) };
      },
    );

    app.get(
      "/api/api-keys",
      { schema: { tags: ["api-keys"], operationId: "listApiKeys", summary: "The workspace's API keys that are not revoked, newest first, without the keys", querystring: PageQuery, response: { 200: z.object({ data: z.array(ApiKey), pagination: Pagination }) } } },
      async (request) => {
        const principal = await auth.authenticate(request);
        const page = await bus.request("identity.api_keys.list", request.query, busOptions(request, principal));
        return { data: page.items, pagination: page.pagination };
      },
    );

    app.delete(
      "/api/api-keys/:id",
      { schema: { tags: ["api-keys"], operationId: "revokeApiKey", summary: "Revoke an API key; it fails with 401 on every gateway within 1 s", params: z.object({ id: Uuid }), response: { 204: z.null().describe("Revoked") } } },
      async (request, reply) => {
        const principal = await auth.authenticate(request);
        await respond(db, request, reply, principal, async () => {
          const revoked = await bus.request("identity.api_keys.revoke", { id: request.params.id }, busOptions(request, principal));
          // This instance drops the key at once; the others on the api_key.revoked event.
          auth.forgetApiKey(principal.workspaceId, revoked.id);
          return { status: 204, body: null };
        });
      },
    );
  };
}
